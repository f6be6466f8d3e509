using System.Threading.Channels;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Subscriber;

/// <summary>
/// An accepted SUBSCRIBE_TRACKS. The publisher PUBLISHes matching tracks on their own streams (they reach
/// <see cref="Publisher.IMoqRequestHandler.OnPublishAsync"/>); tracks it will not publish arrive here as skipped.
/// </summary>
public sealed class MoqTracksSubscription : IAsyncDisposable
{
    private readonly Channel<MoqFullTrackName> _skipped = Channel.CreateUnbounded<MoqFullTrackName>(new UnboundedChannelOptions { SingleReader = true });

    internal MoqTracksSubscription(MoqRequestStream stream, ulong requestId, MoqTrackNamespace prefix)
    {
        Stream = stream;
        RequestId = requestId;
        Prefix = prefix;
    }

    internal MoqRequestStream Stream { get; }
    public ulong RequestId { get; }
    public MoqTrackNamespace Prefix { get; }

    /// <summary>Tracks the publisher announced with PUBLISH_SKIPPED (full names).</summary>
    public ChannelReader<MoqFullTrackName> Skipped => _skipped.Reader;

    /// <summary>Cancels the SUBSCRIBE_TRACKS (subscriptions it produced stay, as the draft says).</summary>
    public ValueTask DisposeAsync()
    {
        Stream.Cancel(MoqStreamResetCode.Cancelled);
        End();
        return ValueTask.CompletedTask;
    }

    internal void OnSkipped(MoqPublishSkipped skipped)
    {
        MoqTrackNamespace full;
        try { full = Prefix.Append(skipped.Suffix); }
        catch (ArgumentException) { throw new MoqProtocolException(MoqError.Protocol("prefix + suffix exceed the namespace limits")); }
        if (full.ByteLength + skipped.TrackName.Length > MoqFullTrackName.MaxTotalLength)
            throw new MoqProtocolException(MoqError.Protocol("full track name over 4096 bytes"));
        _skipped.Writer.TryWrite(new MoqFullTrackName(full, skipped.TrackName.Span));
    }

    internal void End() => _skipped.Writer.TryComplete();
}
