using System.Text.Json.Serialization;

namespace FastRelay.Protocols.Moq.Clients;

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MoqPublisherReport))]
[JsonSerializable(typeof(MoqSubscriberReport))]
public sealed partial class MoqClientJsonContext : JsonSerializerContext;
