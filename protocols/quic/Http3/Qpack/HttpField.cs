namespace FastRelay.Protocols.Quic.Http3.Qpack;

/// <summary>One field line: a lower-case name and its value. Names and values are octet strings on the wire; we map
/// them with Latin-1 so every byte survives a decode/encode round trip unchanged.</summary>
public readonly record struct HttpField(string Name, string Value)
{
    public override string ToString() => Name + ": " + Value;
}
