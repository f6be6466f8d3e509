using System.Buffers.Binary;
using System.Text;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// A faithful MoldUDP64 publisher (Nasdaq "MoldUDP64 Protocol Specification" 1.00; no Debian tool speaks it): downstream
/// packets of a session with the sequence number of their first message, the message count, and that many message
/// blocks (u16 BE length + message). The messages are Nasdaq TotalView-ITCH 5.0 messages laid out as that spec does
/// (System Event 'S', Add Order 'A', Order Executed 'E', Order Delete 'D'), with made-up orders. The sequence advances
/// by the message count; heartbeats (count 0) carry the next sequence number, and the end of session is count 0xFFFF.
/// </summary>
public sealed class MoldUdp64Feed(string session, ulong firstSequence, int seed, int maxMessagesPerPacket = 6)
{
    public const int HeaderLength = 20;
    public const ushort HeartbeatCount = 0, EndOfSessionCount = 0xFFFF;

    private readonly byte[] _session = SessionBytes(session);
    private readonly Random _random = new(seed);
    private readonly List<ulong> _liveOrders = [];
    private ulong _nextOrder = 1000, _nextMatch = 1;
    private long _nanoseconds = 9L * 3600 * 1_000_000_000; // 09:00, as ITCH timestamps count from midnight
    private bool _started;

    /// <summary>The sequence number of the next message (what a heartbeat announces).</summary>
    public ulong NextSequence { get; private set; } = firstSequence;

    /// <summary>Session bytes 2..9 as the relay's channel id: the descriptor's [Channel(2)], a big-endian u64.</summary>
    public ulong Channel => BinaryPrimitives.ReadUInt64BigEndian(_session.AsSpan(2));

    public static byte[] SessionBytes(string session)
    {
        var bytes = Encoding.ASCII.GetBytes(session.PadRight(10));
        return bytes.Length == 10 ? bytes : throw new ArgumentException("a MoldUDP64 session is 10 ASCII characters", nameof(session));
    }

    /// <summary>A packet of 1..max ITCH messages (the first packet opens with the System Event "start of messages").</summary>
    public byte[] NextPacket()
    {
        var messages = new List<byte[]>();
        if (!_started)
        {
            messages.Add(SystemEvent((byte)'O'));
            _started = true;
        }
        var count = _random.Next(1, maxMessagesPerPacket + 1);
        while (messages.Count < count)
            messages.Add(NextMessage());
        return Build(NextSequence, messages);
    }

    public byte[] Heartbeat() => Header(NextSequence, HeartbeatCount);

    public byte[] EndOfSession() => Header(NextSequence, EndOfSessionCount);

    private byte[] Build(ulong sequence, List<byte[]> messages)
    {
        var packet = new byte[HeaderLength + messages.Sum(m => 2 + m.Length)];
        Header(sequence, (ushort)messages.Count).CopyTo(packet, 0);
        var at = HeaderLength;
        foreach (var message in messages)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(at), (ushort)message.Length);
            message.CopyTo(packet, at + 2);
            at += 2 + message.Length;
        }
        NextSequence += (ulong)messages.Count;
        return packet;
    }

    private byte[] Header(ulong sequence, ushort count)
    {
        var header = new byte[HeaderLength];
        _session.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(10), sequence);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18), count);
        return header;
    }

    private byte[] NextMessage()
    {
        var roll = _random.Next(10);
        if (_liveOrders.Count > 0 && roll < 3)
            return Executed(_liveOrders[_random.Next(_liveOrders.Count)]);
        if (_liveOrders.Count > 0 && roll < 5)
        {
            var index = _random.Next(_liveOrders.Count);
            var order = _liveOrders[index];
            _liveOrders.RemoveAt(index);
            return Delete(order);
        }
        return AddOrder();
    }

    /// <summary>The 11 bytes every ITCH 5.0 message starts with: type, stock locate, tracking number, 6-byte timestamp.</summary>
    private byte[] Message(char type, int length, ushort locate)
    {
        _nanoseconds += _random.Next(1_000, 2_000_000);
        var message = new byte[length];
        message[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(1), locate);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(3), 0);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(5), (ushort)(_nanoseconds >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(7), (uint)_nanoseconds);
        return message;
    }

    private byte[] SystemEvent(byte code)
    {
        var m = Message('S', 12, 0);
        m[11] = code;
        return m;
    }

    private static readonly string[] Stocks = ["AAPL", "MSFT", "NVDA", "AMZN", "QQQ"];

    private byte[] AddOrder()
    {
        var stock = _random.Next(Stocks.Length);
        var m = Message('A', 36, (ushort)(stock + 1));
        var order = _nextOrder++;
        _liveOrders.Add(order);
        BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(11), order);
        m[19] = (byte)(_random.Next(2) == 0 ? 'B' : 'S');
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(20), (uint)(_random.Next(1, 50) * 100));
        Encoding.ASCII.GetBytes(Stocks[stock].PadRight(8)).CopyTo(m, 24);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(32), (uint)_random.Next(100_0000, 900_0000)); // Price(4): 4 decimals
        return m;
    }

    private byte[] Executed(ulong order)
    {
        var m = Message('E', 31, 1);
        BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(11), order);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(19), (uint)(_random.Next(1, 10) * 100));
        BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(23), _nextMatch++);
        return m;
    }

    private byte[] Delete(ulong order)
    {
        var m = Message('D', 19, 1);
        BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(11), order);
        return m;
    }

    /// <summary>A received MoldUDP64 packet, checked as a receiver would: header, and message blocks that fill the
    /// datagram exactly, each an ITCH message of its type's length.</summary>
    public sealed record Packet(string Session, ulong Sequence, ushort Count, IReadOnlyList<byte[]> Messages)
    {
        /// <summary>The sequence number the next packet must carry: this one's plus its message count.</summary>
        public ulong Next => Count == EndOfSessionCount ? Sequence : Sequence + Count;
    }

    private static readonly Dictionary<byte, int> ItchLengths = new() { [(byte)'S'] = 12, [(byte)'A'] = 36, [(byte)'E'] = 31, [(byte)'D'] = 19 };

    public static Packet Parse(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < HeaderLength)
            throw new FormatException($"{datagram.Length} bytes: shorter than the MoldUDP64 header");
        var session = Encoding.ASCII.GetString(datagram[..10]);
        var sequence = BinaryPrimitives.ReadUInt64BigEndian(datagram[10..]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(datagram[18..]);
        var messages = new List<byte[]>();
        var at = HeaderLength;
        if (count is not (HeartbeatCount or EndOfSessionCount))
            for (var i = 0; i < count; i++)
            {
                if (at + 2 > datagram.Length)
                    throw new FormatException($"message {i} of {count}: its length is past the datagram's end");
                var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[at..]);
                if (at + 2 + length > datagram.Length)
                    throw new FormatException($"message {i} of {count}: {length} bytes past the datagram's end");
                var message = datagram.Slice(at + 2, length).ToArray();
                if (!ItchLengths.TryGetValue(message[0], out var expected) || expected != length)
                    throw new FormatException($"message {i}: type '{(char)message[0]}' with {length} bytes is not an ITCH 5.0 message of this feed");
                messages.Add(message);
                at += 2 + length;
            }
        if (at != datagram.Length)
            throw new FormatException($"{datagram.Length - at} bytes after the last of {count} messages");
        return new Packet(session, sequence, count, messages);
    }
}
