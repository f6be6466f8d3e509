namespace FastRelay.Protocols.Moq.Wire;

/// <summary>{Group, Object} (draft-19 §"Location Structure"), ordered by group then object.</summary>
public readonly record struct MoqLocation(ulong Group, ulong Object) : IComparable<MoqLocation>
{
    public int CompareTo(MoqLocation other) => Group != other.Group ? Group.CompareTo(other.Group) : Object.CompareTo(other.Object);

    public static bool operator <(MoqLocation a, MoqLocation b) => a.CompareTo(b) < 0;
    public static bool operator >(MoqLocation a, MoqLocation b) => a.CompareTo(b) > 0;
    public static bool operator <=(MoqLocation a, MoqLocation b) => a.CompareTo(b) <= 0;
    public static bool operator >=(MoqLocation a, MoqLocation b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"{{{Group}, {Object}}}";
}
