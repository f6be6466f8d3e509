using System.CommandLine;
using FastRelay.Cli;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`relay --config FILE` / `moq relay --config FILE`: options from a JSON file, checked like flags, the command line
/// winning, and clear errors naming the file and the key.</summary>
public sealed class ConfigFileTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    private ParseResult Parse(string json, params string[] args)
    {
        File.WriteAllText(_file, json);
        var root = CliRoot.Create();
        return root.Parse(ConfigFile.Expand(root, args));
    }

    private static T Value<T>(ParseResult parse, string name) => parse.GetValue<T>(name)!;

    [Fact]
    public void Options_come_from_the_file_and_the_command_line_wins()
    {
        var parse = Parse("""
            { // a relay of the lab
              "port": 7500, "mode": "Userspace", "interface": ["eth0", "eth1"], "metrics": "9464", "timeout": 2.5, "name": null
            }
            """, "relay", "--config", _file, "--port", "7600");

        Assert.Empty(parse.Errors);
        Assert.Equal(7600, Value<int>(parse, "--port"));
        Assert.Equal("Userspace", Value<object>(parse, "--mode").ToString());
        Assert.Equal(["eth0", "eth1"], Value<string[]>(parse, "--interface"));
        Assert.Equal("9464", Value<string>(parse, "--metrics"));
        Assert.Equal(2.5, Value<double>(parse, "--timeout"));
        Assert.Equal("custom-udp", Value<string>(parse, "--name")); // null leaves the default
    }

    [Fact]
    public void The_moq_relay_takes_a_config_file_too()
    {
        var parse = Parse("""{ "port": 4500, "cache-mb": 64, "verbose": true }""", "moq", "relay", "--config", _file);
        Assert.Empty(parse.Errors);
        Assert.Equal(4500, Value<int>(parse, "--port"));
        Assert.Equal(64, Value<long>(parse, "--cache-mb"));
        Assert.True(Value<bool>(parse, "--verbose"));
    }

    [Fact]
    public void An_unknown_key_is_an_error_naming_the_file_the_key_and_the_command()
    {
        var e = Assert.Throws<UserFacingException>(() => Parse("""{ "prot": 7500 }""", "relay", "--config", _file));
        Assert.Contains(_file, e.Message);
        Assert.Contains("\"prot\"", e.Message);
        Assert.Contains("fastrelay relay", e.Message);
        Assert.Contains("port", e.Message); // the keys it knows
    }

    [Fact]
    public void A_bad_value_is_the_parse_error_of_its_option_and_a_bad_file_names_the_file()
    {
        var parse = Parse("""{ "port": "seventy" }""", "relay", "--config", _file);
        Assert.Contains(parse.Errors, e => e.Message.Contains("--port") && e.Message.Contains("seventy"));

        Assert.Contains(_file, Assert.Throws<UserFacingException>(() => Parse("""{ "port": { "n": 1 } }""", "relay", "--config", _file)).Message);
        Assert.Contains(_file, Assert.Throws<UserFacingException>(() => Parse("[1, 2]", "relay", "--config", _file)).Message);
        Assert.Contains(_file, Assert.Throws<UserFacingException>(() => Parse("{ not json", "relay", "--config", _file)).Message);
        Assert.Contains("not an option", Assert.Throws<UserFacingException>(() => Parse("{}", "quic", "get", "--config", _file)).Message);
    }

    public void Dispose() => File.Delete(_file);
}
