namespace FastRelay.Protocols.Quic.Api;

/// <summary>What a kernel fast path reports about one packet of a connection it numbers (the three ring-buffer events):
/// see <see cref="QuicConnection.ApplyKernelReports"/>.</summary>
public enum KernelReportKind : byte
{
    /// <summary>Our packet <see cref="KernelReport.Local"/> left as <see cref="KernelReport.Wire"/>.</summary>
    Numbered,
    /// <summary>The kernel sent a copy of upstream data as packet <see cref="KernelReport.Wire"/>.</summary>
    Forwarded,
    /// <summary>A mapped range the kernel did not send: userspace sends it.</summary>
    NotForwarded,
}

/// <summary>One kernel report; times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns).</summary>
public readonly record struct KernelReport(KernelReportKind Kind, ulong Wire, ulong Local, long TimeNs, int PacketBytes, ulong StreamId,
    ulong Offset, ulong Length, bool Fin)
{
    public static KernelReport Numbered(ulong local, ulong wire, long timeNs) => new(KernelReportKind.Numbered, wire, local, timeNs, 0, 0, 0, 0, false);

    public static KernelReport Forwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin) =>
        new(KernelReportKind.Forwarded, wire, 0, timeNs, packetBytes, streamId, offset, length, fin);

    public static KernelReport NotForwarded(ulong streamId, ulong offset, ulong length, bool fin) =>
        new(KernelReportKind.NotForwarded, 0, 0, 0, 0, streamId, offset, length, fin);
}
