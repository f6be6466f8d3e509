using System.CommandLine;
using FastRelay.Cli;
using FastRelay.Protocols.Quic.Recovery;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`quic serve` and `quic get` take --cc (NewReno by default, the library's default; Cubic is ngtcp2's).</summary>
public class QuicCongestionControlOptionTests
{
    [Theory]
    [InlineData("serve")]
    [InlineData("get")]
    public void Cc_is_NewReno_by_default_Cubic_on_request_and_anything_else_is_a_parse_error(string command)
    {
        var root = CliRoot.Create();
        var quic = root.Subcommands.Single(c => c.Name == "quic").Subcommands.Single(c => c.Name == command);
        var cc = (Option<CongestionControlAlgorithm>)quic.Options.Single(o => o.Name == "--cc");
        string[] required = command == "serve" ? ["--root", ".", "--port", "0"] : ["https://127.0.0.1:4433/x"];

        var byDefault = root.Parse(["quic", command, .. required]);
        Assert.Empty(byDefault.Errors);
        Assert.Equal(CongestionControlAlgorithm.NewReno, byDefault.GetValue(cc));
        var cubic = root.Parse(["quic", command, .. required, "--cc", "cubic"]);
        Assert.Empty(cubic.Errors);
        Assert.Equal(CongestionControlAlgorithm.Cubic, cubic.GetValue(cc));
        Assert.NotEmpty(root.Parse(["quic", command, .. required, "--cc", "bbr"]).Errors);
    }
}
