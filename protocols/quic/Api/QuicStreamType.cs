namespace FastRelay.Protocols.Quic.Api;

/// <summary>Stream direction, as in System.Net.Quic.</summary>
public enum QuicStreamType
{
    Unidirectional,
    Bidirectional,
}

/// <summary>Which half of a stream an abort applies to.</summary>
[Flags]
public enum QuicAbortDirection
{
    Read = 1,
    Write = 2,
    Both = Read | Write,
}
