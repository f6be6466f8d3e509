namespace FastRelay.Cli;

/// <summary>An error whose message is complete for the user: printed without a stack trace, exit code 1.</summary>
public sealed class UserFacingException(string message, Exception? inner = null) : Exception(message, inner);
