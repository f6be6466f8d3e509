using FastRelay.Bpf;
using FastRelay.Generated;

namespace FastRelay.Cli.Relay;

/// <summary>Checks a kernel object given with `--object` before a relay loads it.</summary>
public static class RelayObjects
{
    /// <summary>
    /// The object must have been built from <paramref name="protocol"/>'s descriptor: every shared struct in its BTF must
    /// match the layouts the relay writes. Another protocol's object (or one built from an older descriptor) is one clear
    /// line naming both, not a <see cref="LayoutMismatchException"/> from the middle of start-up.
    /// </summary>
    public static void EnsureBuiltFor(GeneratedProtocol protocol, string objectPath)
    {
        var full = Path.GetFullPath(objectPath);
        if (!File.Exists(full))
            throw new UserFacingException($"--object {objectPath}: no such file");
        IReadOnlyList<LayoutMismatch> mismatches;
        try
        {
            using var bpf = BpfObject.Open(full);
            mismatches = BtfLayoutCheck.Compare(bpf, protocol.Structs);
        }
        catch (BpfException e)
        {
            throw new UserFacingException($"--object {objectPath} is not a loadable BPF object: {e.Message.Split('\n')[0]}", e);
        }
        if (mismatches.Count > 0)
            throw new UserFacingException(
                $"--object {objectPath} was not built from {protocol.DescriptorType} (protocol {protocol.Name}): {mismatches.Count} shared struct(s) differ, " +
                $"first: {mismatches[0]}; build it with `fastrelay gen` for this protocol, or leave --object out and the relay builds its own");
    }
}
