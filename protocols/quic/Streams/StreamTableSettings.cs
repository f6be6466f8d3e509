namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Our side's limits for a <see cref="StreamTable"/> (what we advertise in transport parameters), the auto-tuning
/// caps and the send buffer size. The peer's limits come later through <see cref="StreamTable.SetPeerLimits"/>.
/// </summary>
public sealed class StreamTableSettings
{
    public bool IsClient { get; set; }
    /// <summary>initial_max_streams_bidi / _uni we advertise: how many streams of each type the peer may open.</summary>
    public ulong LocalMaxStreamsBidi { get; set; } = 100;
    public ulong LocalMaxStreamsUni { get; set; } = 100;
    /// <summary>initial_max_data we advertise (the initial connection receive window).</summary>
    public ulong LocalInitialMaxData { get; set; } = 1 << 20;
    /// <summary>initial_max_stream_data_bidi_local: receive window of bidirectional streams we open.</summary>
    public ulong LocalMaxStreamDataBidiLocal { get; set; } = 256 * 1024;
    /// <summary>initial_max_stream_data_bidi_remote: receive window of bidirectional streams the peer opens.</summary>
    public ulong LocalMaxStreamDataBidiRemote { get; set; } = 256 * 1024;
    /// <summary>initial_max_stream_data_uni: receive window of unidirectional streams the peer opens.</summary>
    public ulong LocalMaxStreamDataUni { get; set; } = 256 * 1024;
    /// <summary>Auto-tuning cap of a stream receive window (also the stream's receive buffer bound).</summary>
    public ulong MaxReceiveWindow { get; set; } = 6 * 1024 * 1024;
    /// <summary>Auto-tuning cap of the connection receive window.</summary>
    public ulong MaxConnectionReceiveWindow { get; set; } = 15 * 1024 * 1024;
    /// <summary>Unacknowledged bytes a stream's send side holds at most.</summary>
    public int SendBufferCapacity { get; set; } = 1024 * 1024;
    /// <summary>Kernel fast path: unidirectional streams we open send new data in the fast-path layout (see StreamTable.FastPath.cs).</summary>
    public bool FastPathUnidirectionalStreams { get; set; }

    /// <summary>Fills the flow-control and stream-count fields of our transport parameters from these settings.</summary>
    public void ApplyTo(Wire.TransportParameters parameters)
    {
        parameters.InitialMaxData = LocalInitialMaxData;
        parameters.InitialMaxStreamDataBidiLocal = LocalMaxStreamDataBidiLocal;
        parameters.InitialMaxStreamDataBidiRemote = LocalMaxStreamDataBidiRemote;
        parameters.InitialMaxStreamDataUni = LocalMaxStreamDataUni;
        parameters.InitialMaxStreamsBidi = LocalMaxStreamsBidi;
        parameters.InitialMaxStreamsUni = LocalMaxStreamsUni;
    }
}
