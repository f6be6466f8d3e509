using System.Threading.Channels;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Subscriber;

/// <summary>
/// An accepted FETCH: <see cref="Ok"/> says where the range really ends; the objects of its FETCH_HEADER stream arrive
/// on <see cref="Objects"/> in the stream's order and the channel completes at the stream's FIN. End of Range markers
/// (objects known not to exist, or unknown) are collected in <see cref="EndOfRanges"/>.
/// </summary>
public sealed class MoqFetchResponse : IAsyncDisposable
{
    private readonly Channel<MoqObject> _objects;
    private readonly List<MoqFetchEndOfRange> _endOfRanges = new();

    internal MoqFetchResponse(MoqSession session, MoqRequestStream stream, MoqFetch request, int queueLength)
    {
        Session = session;
        Stream = stream;
        Request = request;
        GroupOrder = request.Parameters.GroupOrder ?? MoqGroupOrder.Ascending;
        _objects = Channel.CreateBounded<MoqObject>(new BoundedChannelOptions(queueLength) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public MoqSession Session { get; }
    internal MoqRequestStream Stream { get; }
    public MoqFetch Request { get; }
    public ulong RequestId => Request.RequestId;
    public MoqGroupOrder GroupOrder { get; }

    /// <summary>FETCH_OK (set before <see cref="MoqSession.FetchAsync"/> returns).</summary>
    public MoqFetchOk Ok { get; internal set; } = null!;

    public ChannelReader<MoqObject> Objects => _objects.Reader;

    public IAsyncEnumerable<MoqObject> ReadObjectsAsync(CancellationToken cancellationToken = default) => _objects.Reader.ReadAllAsync(cancellationToken);

    public IReadOnlyList<MoqFetchEndOfRange> EndOfRanges
    {
        get { lock (_endOfRanges) return _endOfRanges.ToArray(); }
    }

    /// <summary>Cancels the fetch (request stream reset both ways) and ends <see cref="Objects"/>.</summary>
    public ValueTask DisposeAsync()
    {
        Stream.Cancel(MoqStreamResetCode.Cancelled);
        Session.ForgetFetch(this);
        CompleteObjects(null);
        return ValueTask.CompletedTask;
    }

    internal async ValueTask<bool> DeliverAsync(MoqObject obj, CancellationToken cancellationToken)
    {
        try
        {
            await _objects.Writer.WriteAsync(obj, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ChannelClosedException) { return false; }
    }

    internal void OnEndOfRange(MoqFetchEndOfRange range)
    {
        lock (_endOfRanges) _endOfRanges.Add(range);
    }

    internal void CompleteObjects(Exception? error) => _objects.Writer.TryComplete(error);
}
