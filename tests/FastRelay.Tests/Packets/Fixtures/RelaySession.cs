using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Protocols;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>
/// A freshly loaded generated object for one test (so counters, budgets and the ring buffer start empty), its three
/// programs, the generated map accessors and a reader on fr_events.
/// </summary>
public sealed class RelaySession : IDisposable
{
    private readonly List<RegistrationView> _events = [];
    private readonly RingBufferReader _reader;

    public RelaySession(GeneratedObjects objects, FastPathProtocol protocol)
    {
        Protocol = protocol;
        Object = BpfObject.Load(objects.ObjectPath(protocol.Generated));
        try
        {
            Maps = protocol.Bind(Object);
            UpstreamIngress = Object.Program("fr_upstream_ingress");
            SubscriberEgress = Object.Program("fr_subscriber_egress");
            SubscriberIngress = Object.Program("fr_subscriber_ingress");
            _reader = new RingBufferReader(Maps.Events, record => _events.Add(Maps.Decode(record)));
        }
        catch
        {
            Object.Dispose();
            throw;
        }
    }

    public FastPathProtocol Protocol { get; }
    public BpfObject Object { get; }
    public MapBinding Maps { get; }
    public BpfProgram UpstreamIngress { get; }
    public BpfProgram SubscriberEgress { get; }
    public BpfProgram SubscriberIngress { get; }

    /// <summary>The context of a clone made for <paramref name="slot"/> by upstream ingress.</summary>
    public SkbContext CloneFor(uint slot) => new() { Mark = Protocol.MarkMagic | (slot + 1) };

    /// <summary>Configures a subscriber from <see cref="Topology"/>: slot, endpoint index and first packet number. Its device
    /// is entered in fr_egress_devices as the host does where it attaches the egress program, unless
    /// <paramref name="egressDevice"/> is false (upstream ingress then makes it no clone).</summary>
    public SubscriberSpec AddSubscriber(uint slot, bool v6 = false, bool active = true, uint ifIndex = 1, ulong nextPacketNumber = 0, uint channel = 7,
        bool egressDevice = true)
    {
        if (egressDevice)
            AddEgressDevice(ifIndex);
        var sub = Topology.Subscriber(Protocol, slot, v6) with { Active = active, IfIndex = ifIndex, Channel = channel };
        Maps.SetSubscriber(slot, sub);
        Maps.MapEndpoint(sub.Remote, slot);
        Maps.SetNextPacketNumber(slot, nextPacketNumber);
        return sub;
    }

    /// <summary>What FastPathHost writes for each device it attaches the egress program to.</summary>
    public void AddEgressDevice(uint ifIndex) => Object.Map(FastRelay.Relay.FastPathHost.EgressDevicesMap).Update(ifIndex, 1u);

    /// <summary>Every registration submitted since the last call (the producer never wakes us: consume, not poll).</summary>
    public IReadOnlyList<RegistrationView> TakeEvents()
    {
        _reader.Consume();
        var taken = _events.ToList();
        _events.Clear();
        return taken;
    }

    public void Dispose()
    {
        _reader.Dispose();
        Object.Dispose();
    }
}
