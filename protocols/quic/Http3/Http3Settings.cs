using System.Buffers;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>The SETTINGS frame payload (RFC 9114 §7.2.4): identifier/value varint pairs. Unknown identifiers are
/// kept (and otherwise ignored, §7.2.4.1); duplicates and HTTP/2-only identifiers are H3_SETTINGS_ERROR.</summary>
public sealed class Http3Settings
{
    public ulong QpackMaxTableCapacity { get; init; }
    public ulong QpackBlockedStreams { get; init; }
    /// <summary>Null when absent, which means "unlimited" (§4.2.2).</summary>
    public ulong? MaxFieldSectionSize { get; init; }
    public IReadOnlyList<KeyValuePair<ulong, ulong>> Other { get; init; } = [];

    /// <summary>What we send: no dynamic table, no blocked streams (so peers never reference a dynamic table).</summary>
    public static Http3Settings Ours { get; } = new() { QpackMaxTableCapacity = 0, QpackBlockedStreams = 0, MaxFieldSectionSize = 64 * 1024 };

    public static bool TryParse(ReadOnlySpan<byte> payload, out Http3Settings settings, out Http3Error error)
    {
        settings = null!;
        var seen = new HashSet<ulong>();
        var other = new List<KeyValuePair<ulong, ulong>>();
        ulong capacity = 0, blocked = 0;
        ulong? maxSection = null;
        while (!payload.IsEmpty)
        {
            if (!QuicVarint.TryRead(payload, out ulong id, out int n) || !QuicVarint.TryRead(payload[n..], out ulong value, out int m))
            {
                error = new Http3Error(Http3ErrorCode.FrameError, "truncated setting");
                return false;
            }
            payload = payload[(n + m)..];
            if (!seen.Add(id))
            {
                error = new Http3Error(Http3ErrorCode.SettingsError, "duplicate setting identifier");
                return false;
            }
            if (Http3SettingId.IsReservedHttp2(id))
            {
                error = new Http3Error(Http3ErrorCode.SettingsError, "HTTP/2 setting identifier in HTTP/3 SETTINGS");
                return false;
            }
            switch (id)
            {
                case Http3SettingId.QpackMaxTableCapacity: capacity = value; break;
                case Http3SettingId.QpackBlockedStreams: blocked = value; break;
                case Http3SettingId.MaxFieldSectionSize: maxSection = value; break;
                default: other.Add(new(id, value)); break;
            }
        }
        settings = new Http3Settings { QpackMaxTableCapacity = capacity, QpackBlockedStreams = blocked, MaxFieldSectionSize = maxSection, Other = other };
        error = Http3Error.None;
        return true;
    }

    /// <summary>Writes a complete SETTINGS frame.</summary>
    public void WriteFrame(IBufferWriter<byte> output)
    {
        var payload = new ArrayBufferWriter<byte>(32);
        void Pair(ulong id, ulong value)
        {
            Http3FrameCodec.WriteVarint(payload, id);
            Http3FrameCodec.WriteVarint(payload, value);
        }
        Pair(Http3SettingId.QpackMaxTableCapacity, QpackMaxTableCapacity);
        Pair(Http3SettingId.QpackBlockedStreams, QpackBlockedStreams);
        if (MaxFieldSectionSize is { } max)
            Pair(Http3SettingId.MaxFieldSectionSize, max);
        foreach (var (id, value) in Other)
            Pair(id, value);
        Http3FrameCodec.WriteFrame(output, (ulong)Http3FrameType.Settings, payload.WrittenSpan);
    }
}
