using System.Net;
using FastRelay.Cli.Gen;
using FastRelay.Cli.Metrics;
using FastRelay.Net;
using FastRelay.Protocols.CustomUdp;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Relay;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Relay;

/// <summary>Which copy engine a relay uses.</summary>
public enum RelayMode
{
    /// <summary>Copies made by the generated TC programs in the kernel.</summary>
    FastPath,

    /// <summary>The same wire behaviour, all in this process (for comparison and machines without eBPF).</summary>
    Userspace,

    /// <summary>The fast path where it can run here (a non-loopback listener, eBPF usable, an interface to attach to),
    /// else userspace, with the reason printed. `moq relay`'s default.</summary>
    Auto,
}

public sealed record RelayRunOptions
{
    public RelayMode Mode { get; init; } = RelayMode.FastPath;
    public required RelayOptions Relay { get; init; }
    public IReadOnlyList<string>? Interfaces { get; init; }
    public string? ObjectPath { get; init; }
    public string BpfFsRoot { get; init; } = FastRelay.Bpf.BpfFs.DefaultRoot;
    public string TemplatesDir { get; init; } = GenPipeline.DefaultTemplatesDir;

    /// <summary>`--metrics`: serve Prometheus metrics on this address ("PORT" or "HOST:PORT"); null = off.</summary>
    public string? MetricsAddress { get; init; }
}

/// <summary>
/// Composes a custom-UDP relay: the socket, the data plane (the generated fast path put into the kernel by
/// <see cref="FastPathHost"/>, or the userspace plane), subscriber binding through the routing and neighbour tables, and
/// the relay core. Runs until cancelled (Ctrl-C), then detaches and removes everything it put into the kernel.
/// </summary>
public static class CustomUdpRelayRunner
{
    public static async Task RunAsync(RelayRunOptions options, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var log = logs.CreateLogger("fastrelay.relay");
        using var socket = CustomUdpRelay.OpenSocket(options.Relay.Port);
        FastPathHost? host = null;
        try
        {
            Func<IRegistrationSink, IFanOutPlane> plane;
            Func<IPEndPoint, KernelSubscriber> bind;
            if (options.Mode == RelayMode.FastPath)
            {
                if (options.ObjectPath is { } given)
                    RelayObjects.EnsureBuiltFor(CustomUdpHeaderFastPath.Protocol, given);
                var objectPath = options.ObjectPath ?? await GenPipeline.BuildForRelayAsync(CustomUdpHeaderFastPath.Protocol, options.Relay.Name, options.TemplatesDir, cancellationToken);
                host = FastPathHost.Start(new FastPathHostOptions(CustomUdpHeaderFastPath.Protocol, objectPath, options.Relay.Name,
                    options.Interfaces, options.BpfFsRoot), log);
                var bpf = host.Object;
                plane = sink =>
                {
                    var kernel = new KernelDataPlane(bpf, socket, sink, log);
                    kernel.SetConfig((ushort)options.Relay.Port);
                    return kernel;
                };
                bind = remote => BindThroughKernelTables(remote, options.Relay.Port, cancellationToken);
                log.LogInformation("fast path: {Count} programs attached, maps pinned at {Pins}", host.Attachments.Count, host.PinPath);
            }
            else
            {
                // The runtime's userspace plane, the same one `fastrelay relay --mode userspace` uses for any descriptor.
                plane = CustomUdpRelay.UserspacePlane(socket, options.Relay.MaxSubscribers);
                bind = remote => new KernelSubscriber(0, 0, remote, new IPEndPoint(IPAddress.Any, options.Relay.Port), 0, new byte[6], new byte[6]);
            }

            var attached = host;
            var relayOptions = options.Relay with
            {
                // Fast path: the kernel forwards and caches; this process answers control messages and takes the few
                // originals the kernel does not keep, so it wakes at most every 5 ms (a NACK is still answered in order,
                // after every original before it).
                ReceiveCoalescing = options.Mode == RelayMode.FastPath ? TimeSpan.FromMilliseconds(5) : TimeSpan.Zero,
                Attachments = () => attached?.Attachments
                    .Select(a => $"{a.ProgramName} on {Net.NetDevice.NameOf(a.Ifindex) ?? a.Ifindex.ToString()} {a.Direction.ToString().ToLowerInvariant()} ({a.Mode}, prog {a.ProgramId})")
                    .ToList() ?? [],
            };
            using var relay = new CustomUdpRelay(socket, relayOptions, plane, bind, log);
            using var metrics = new RelayMetrics(relay);
            await using var exporter = options.MetricsAddress is { } address ? PrometheusEndpoint.Start(address, log, metrics.Meter) : null;
            log.LogInformation("relay {Name} listening on UDP {Port} ({Mode})", options.Relay.Name, options.Relay.Port, relay.Plane.Mode);
            await Task.Factory.StartNew(() => relay.Run(cancellationToken), TaskCreationOptions.LongRunning);
        }
        finally
        {
            host?.Dispose();
        }
    }

    /// <summary>The device, relay address and MACs towards a subscriber. The relay has just sent it a CHALLENGE, so the
    /// neighbour entry is normally there; give the kernel a moment when it is still resolving.</summary>
    private static KernelSubscriber BindThroughKernelTables(IPEndPoint remote, int port, CancellationToken cancellationToken)
    {
        var plain = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        var route = RouteResolver.ResolveRecentPeer(plain, cancellationToken);
        return new KernelSubscriber(0, 0, new IPEndPoint(plain, remote.Port), new IPEndPoint(route.Source, port), route.Ifindex,
            route.DeviceMac.GetAddressBytes(), route.NextHopMac.GetAddressBytes());
    }
}
