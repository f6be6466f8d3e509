namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>The window bounds every controller shares (RFC 9002 §7.2).</summary>
public static class CongestionWindows
{
    /// <summary>kInitialWindow: min(10·mds, max(14720, 2·mds)).</summary>
    public static long Initial(int maxDatagramSize) => Math.Min(10L * maxDatagramSize, Math.Max(14_720L, 2L * maxDatagramSize));

    /// <summary>kMinimumWindow: 2·mds.</summary>
    public static long Minimum(int maxDatagramSize) => 2L * maxDatagramSize;
}
