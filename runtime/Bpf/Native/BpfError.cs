namespace FastRelay.Bpf.Native;

/// <summary>Turns libbpf's negative-errno results into exceptions that carry libbpf's own wording.</summary>
internal static unsafe class BpfError
{
    internal static string Describe(int errno)
    {
        errno = Math.Abs(errno);
        byte* buf = stackalloc byte[256];
        buf[0] = 0;
        LibBpf.libbpf_strerror(errno, buf, 256);
        var text = new string((sbyte*)buf);
        return text.Length == 0 ? $"errno {errno}" : text;
    }

    /// <summary>Throws when <paramref name="result"/> is a libbpf error (negative errno); returns it otherwise.</summary>
    internal static int Check(int result, string operation)
    {
        if (result < 0) throw new BpfException(operation, -result);
        return result;
    }
}
