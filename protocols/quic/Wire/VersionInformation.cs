using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// The version_information transport parameter (RFC 9368 §3): the version the sender chose and the versions it has
/// available. A client lists the versions its first flight converts to, most preferred first (the chosen one among
/// them); a server lists the versions it fully supports (order carries no meaning). Zero versions, a length that is not
/// a multiple of 4, and an empty value are malformed (§4).
/// </summary>
public sealed record VersionInformation(uint ChosenVersion, IReadOnlyList<uint> AvailableVersions)
{
    /// <summary>Bounds what a peer can make us hold: 4 bytes each, far more than any deployment lists.</summary>
    public const int MaxAvailableVersions = 64;

    public int EncodedLength => 4 + 4 * AvailableVersions.Count;

    public bool Offers(uint version)
    {
        foreach (uint v in AvailableVersions) if (v == version) return true;
        return false;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, ChosenVersion);
        for (int i = 0; i < AvailableVersions.Count; i++) BinaryPrimitives.WriteUInt32BigEndian(destination[(4 + 4 * i)..], AvailableVersions[i]);
    }

    public static bool TryRead(ReadOnlySpan<byte> value, out VersionInformation? information)
    {
        information = null;
        if (value.Length < 4 || value.Length % 4 != 0 || value.Length > 4 + 4 * MaxAvailableVersions) return false;
        uint chosen = BinaryPrimitives.ReadUInt32BigEndian(value);
        if (chosen == 0) return false;
        var available = new uint[(value.Length - 4) / 4];
        for (int i = 0; i < available.Length; i++)
        {
            available[i] = BinaryPrimitives.ReadUInt32BigEndian(value[(4 + 4 * i)..]);
            if (available[i] == 0) return false;
        }
        information = new VersionInformation(chosen, available);
        return true;
    }
}
