namespace FastRelay.Descriptors;

/// <summary>
/// Marks a record (or class/struct) as a FastRelay protocol descriptor. Its attributed properties say where the
/// protocol's fields live in the UDP payload; the FastRelay generator turns it into a TC eBPF fast path, typed
/// C# map accessors and a registration event reader.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false, AllowMultiple = false)]
public sealed class FastRelayProtocolAttribute(string name) : Attribute
{
    /// <summary>C identifier naming the protocol: files are <c>&lt;name&gt;.fastrelay.h</c>, <c>&lt;name&gt;.bpf.o</c>.</summary>
    public string Name { get; } = name;

    /// <summary>UDP port the relay listens on (the default; the runtime can override it in the config map).</summary>
    public int UdpPort { get; set; }

    /// <summary>Most subscribers the kernel fans out to (the bound of the clone loop). 1..256.</summary>
    public int MaxSubscribers { get; set; } = 64;

    /// <summary>Most channels (fan-out groups). More than 1 needs a <see cref="ChannelAttribute"/> field.</summary>
    public int MaxChannels { get; set; } = 1;

    /// <summary>Drop less urgent packets against a per-subscriber byte budget. Needs a <see cref="PriorityAttribute"/> field.</summary>
    public bool PriorityDrop { get; set; }

    /// <summary>Upstream packets the kernel keeps per channel (a ring keyed by the upstream packet number) for repair and
    /// late joiners, so that a relay whose userspace needs nothing else from the originals can have them dropped in the
    /// kernel instead of received. 0 (the default): no kernel cache. A power of two up to 65536; needs a
    /// <see cref="PacketNumberAttribute"/> field. Memory: MaxChannels × this × about 1.5 kB.</summary>
    public int KernelCachePackets { get; set; }

    /// <summary>Entries of the channel lookup map (fields marked <see cref="FieldAttribute.ChannelKey"/>): how many header
    /// values (e.g. upstream streams) may be assigned to channels at once. 1..1048576; used only with such fields.</summary>
    public int ChannelLookupEntries { get; set; } = 4096;

    /// <summary>Subscriber slots may be QUIC connections with full 1-RTT protection: the egress program seals their copies
    /// with AES-GCM keys userspace installs (bpf-templates/crypto, docs/quic-encrypted-fast-path.md), and the packet number
    /// counter (fr_next_pn) is mapped into userspace so the stack takes its numbers from it before sealing its own packets.
    /// Needs a translated <see cref="PacketNumberAttribute"/> field. Memory: about 128 KiB of key tables per slot.</summary>
    public bool EncryptedSubscribers { get; set; }
}
