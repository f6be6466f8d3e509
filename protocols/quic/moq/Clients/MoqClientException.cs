namespace FastRelay.Protocols.Moq.Clients;

/// <summary>A MoQ client operation the peer refused or that could not complete (SETUP failed, REQUEST_ERROR for a
/// SUBSCRIBE or PUBLISH_NAMESPACE, the session closed): the message says which and why, for the user.</summary>
public sealed class MoqClientException(string message, Exception? inner = null) : Exception(message, inner);
