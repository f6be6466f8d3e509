namespace FastRelay.Protocols.Quic.Tls.Resumption;

/// <summary>
/// A client's tickets per server (keyed by the name the connection used: host or address, and port). Tickets are single
/// use (RFC 8446 Appendix C.4: reusing one lets a network observer link connections, and a server with anti-replay
/// refuses its 0-RTT the second time), so <see cref="TryTake"/> removes what it returns. Bounded: a few tickets per
/// server, a bounded number of servers. Thread-safe. <see cref="Save"/> / <see cref="Load"/> keep it in a file
/// (e.g. `fastrelay quic get --session-file`).
/// </summary>
public sealed class SessionTicketCache
{
    private const int MaxTicketsPerServer = 4;
    private const int MaxServers = 256;
    private const int MaxFileBytes = 1 << 20;
    private static ReadOnlySpan<byte> FileMagic => "FRQT"u8;

    private readonly Dictionary<string, List<SessionTicket>> _tickets = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    public static string KeyFor(string host, int port) => $"{host}:{port}";

    public int Count
    {
        get { lock (_lock) return _tickets.Values.Sum(l => l.Count); }
    }

    public void Add(string serverKey, SessionTicket ticket)
    {
        lock (_lock)
        {
            if (!_tickets.TryGetValue(serverKey, out var list))
            {
                if (_tickets.Count >= MaxServers) _tickets.Remove(_tickets.Keys.First());
                _tickets[serverKey] = list = [];
            }
            list.Add(ticket);
            if (list.Count > MaxTicketsPerServer) list.RemoveAt(0);
        }
    }

    /// <summary>The newest unexpired ticket for the server, removed from the cache; expired ones are dropped on the way.</summary>
    public bool TryTake(string serverKey, long nowUnixMs, out SessionTicket? ticket)
    {
        ticket = null;
        lock (_lock)
        {
            if (!_tickets.TryGetValue(serverKey, out var list)) return false;
            list.RemoveAll(t => t.IsExpired(nowUnixMs));
            if (list.Count > 0)
            {
                ticket = list[^1];
                list.RemoveAt(list.Count - 1);
            }
            if (list.Count == 0) _tickets.Remove(serverKey);
            return ticket is not null;
        }
    }

    /// <summary>Writes every ticket to <paramref name="path"/> (the PSKs are secrets: the file is created owner-only).</summary>
    public void Save(string path)
    {
        using var output = new MemoryStream();
        output.Write(FileMagic);
        lock (_lock)
        {
            foreach (var (key, list) in _tickets)
                foreach (var ticket in list)
                {
                    var keyBytes = System.Text.Encoding.UTF8.GetBytes(key);
                    var bytes = ticket.Serialize();
                    if (keyBytes.Length > 255) continue;
                    output.WriteByte((byte)keyBytes.Length);
                    output.Write(keyBytes);
                    output.WriteByte((byte)(bytes.Length >> 8));
                    output.WriteByte((byte)bytes.Length);
                    output.Write(bytes);
                }
        }
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var file = new FileStream(path, options);
        file.Write(output.GetBuffer(), 0, (int)output.Length);
    }

    /// <summary>Adds the tickets stored in <paramref name="path"/>; a missing, damaged or oversized file adds none (never throws for content).</summary>
    public int Load(string path)
    {
        if (!File.Exists(path)) return 0;
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes) return 0;
        var data = File.ReadAllBytes(path).AsSpan();
        if (!data.StartsWith(FileMagic)) return 0;
        int p = FileMagic.Length, loaded = 0;
        while (p < data.Length)
        {
            int keyLength = data[p++];
            if (data.Length - p < keyLength + 2) break;
            string key = System.Text.Encoding.UTF8.GetString(data.Slice(p, keyLength));
            p += keyLength;
            int length = data[p] << 8 | data[p + 1];
            p += 2;
            if (data.Length - p < length) break;
            if (SessionTicket.TryDeserialize(data.Slice(p, length), out var ticket))
            {
                Add(key, ticket!);
                loaded++;
            }
            p += length;
        }
        return loaded;
    }
}
