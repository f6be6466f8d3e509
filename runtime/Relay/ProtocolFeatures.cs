using System.Globalization;
using System.Text.RegularExpressions;
using FastRelay.Generated;

namespace FastRelay.Relay;

/// <summary>
/// What a generated protocol's kernel programs do, read from the <c>#define</c>s of its generated C header (the one
/// place every feature is recorded: <see cref="GeneratedProtocol"/> carries the header text). The generic host decides
/// from these which maps it must fill and which descriptors it cannot serve yet.
/// </summary>
public sealed partial class ProtocolFeatures
{
    private readonly IReadOnlyDictionary<string, string> _defines;

    private ProtocolFeatures(GeneratedProtocol protocol, IReadOnlyDictionary<string, string> defines)
    {
        Protocol = protocol;
        _defines = defines;
    }

    public GeneratedProtocol Protocol { get; }

    public static ProtocolFeatures Of(GeneratedProtocol protocol)
    {
        var defines = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in Define().Matches(protocol.CHeader))
            defines.TryAdd(m.Groups[1].Value, m.Groups[2].Value.Trim());
        return new ProtocolFeatures(protocol, defines);
    }

    public bool HasChannel => Flag("FR_HAS_CHANNEL");
    public bool HasPacketNumber => Flag("FR_HAS_PACKET_NUMBER");

    /// <summary>The kernel renumbers every copy per subscriber (<c>[PacketNumber(Translate = true)]</c>); false: the
    /// publisher's numbers pass through.</summary>
    public bool RenumbersPerSubscriber => HasPacketNumber && Flag("FR_PN_TRANSLATE");

    /// <summary>The packet number is the first message's and advances by a message count per datagram
    /// (<c>[MessageCount]</c>, e.g. MoldUDP64); the generator allows it only passed through and without a kernel cache.</summary>
    public bool AdvancesByMessageCount => Flag("FR_HAS_MESSAGE_COUNT");

    /// <summary>How the relay treats the sequence, in words for logs and status.</summary>
    public string SequenceDescription =>
        !HasPacketNumber ? "absent"
        : RenumbersPerSubscriber ? "renumbered per subscriber"
        : AdvancesByMessageCount ? "passed through (advancing by the message count)"
        : "passed through";

    public bool TranslatesStreams => Flag("FR_STREAM_TRANSLATE");
    public bool HasStreamOffset => Flag("FR_HAS_STREAM_OFFSET");
    public bool LooksUpChannel => Flag("FR_CHANNEL_LOOKUP");
    public bool HasConnectionId => Flag("FR_HAS_CONNECTION_ID");
    public int ConnectionIdLength => (int)Number("FR_CID_LEN");
    public bool PriorityDrop => Flag("FR_PRIORITY_DROP");
    public int PriorityLevels => (int)Number("FR_PRIORITY_LEVELS");
    public bool KernelCache => Flag("FR_KERNEL_CACHE");

    /// <summary>fr_cache entries per channel (0 without a kernel cache).</summary>
    public int CachePackets => (int)Number("FR_CACHE_PACKETS");
    public uint ConfigConsumeCached => (uint)Number("FR_CONFIG_CONSUME_CACHED");

    /// <summary>The skb->mark bits of the clone tag (<see cref="CloneMarks"/>).</summary>
    public uint MarkMagicMask => (uint)Number("FR_MARK_MAGIC_MASK");

    public uint ConfigRegisterRuns => (uint)Number("FR_CONFIG_REGISTER_RUNS");
    public uint ConfigTranslateFamily => (uint)Number("FR_CONFIG_TRANSLATE_FAMILY");

    /// <summary>The largest channel id the channel key holds (its width in the layout).</summary>
    public ulong MaxChannelId
    {
        get
        {
            var key = Protocol.Structs.First(s => s.CName == "fr_channel_key").Fields.First(f => f.CName == "id");
            return key.Size >= 8 ? ulong.MaxValue : (1UL << (key.Size * 8)) - 1;
        }
    }

    public SharedStructLayout Struct(string cName) =>
        Protocol.Structs.FirstOrDefault(s => s.CName == cName)
        ?? throw new InvalidOperationException($"protocol {Protocol.Name} has no struct {cName}");

    private bool Flag(string name) => _defines.TryGetValue(name, out var v) && v != "0";

    private ulong Number(string name)
    {
        if (!_defines.TryGetValue(name, out var text))
            return 0;
        text = text.Trim('(', ')').TrimEnd('U', 'L', 'u', 'l');
        return text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(text, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^#define\s+(FR_[A-Z0-9_]+)\s+([^\r\n/]+)", RegexOptions.Multiline)]
    private static partial Regex Define();
}
