namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>A Location (draft-19 §"Location Structure"): group then object, compared in that order.</summary>
public readonly record struct ObjectLocation(ulong Group, ulong Object) : IComparable<ObjectLocation>
{
    public int CompareTo(ObjectLocation other)
    {
        int c = Group.CompareTo(other.Group);
        return c != 0 ? c : Object.CompareTo(other.Object);
    }

    public static bool operator <(ObjectLocation a, ObjectLocation b) => a.CompareTo(b) < 0;
    public static bool operator >(ObjectLocation a, ObjectLocation b) => a.CompareTo(b) > 0;
    public static bool operator <=(ObjectLocation a, ObjectLocation b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ObjectLocation a, ObjectLocation b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"{{{Group},{Object}}}";
}
