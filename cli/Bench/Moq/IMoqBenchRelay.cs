using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>The relay under measurement: where to reach it and how much CPU it has used so far.</summary>
public interface IMoqBenchRelay : IAsyncDisposable
{
    MoqUrl Url { get; }

    /// <summary>"process PID" or "in-process": said in the report.</summary>
    string Description { get; }

    /// <summary>CPU time the relay has used so far (only <see cref="ProcessCpuTime.Difference"/>s between readings mean anything).</summary>
    ProcessCpuTime ReadCpu();

    /// <summary>Everything the relay logged, for an error message when a run fails.</summary>
    string Log { get; }
}
