#!/usr/bin/env python3
"""Measures the fastrelay CLI's start-up (docs/startup.md): how long `fastrelay --help` takes, and how long `fastrelay
quic get` takes from exec to its first UDP datagram on the wire.

    scripts/startup-time.py [--runs N] [--cli PATH]...   (PATH: the command to run, default ./fastrelay)

Wall time on a shared 2-core machine swings with the other processes' load, so it reports the minimum and the median
of N runs, and the process's own CPU time (user + system: from wait4 for --help, from /proc/PID/stat when the first
packet arrives for quic get; the kernel counts it in 10 ms ticks), which load moves much less. Several --cli options
compare builds: their runs are interleaved (A, B, A, B...) so that each sees the same moments of load.
FASTRELAY_STARTUP_TRACE=1 in the environment makes the CLI print where its start-up goes (docs/startup.md).
The first packet is timed without a server: a UDP socket on 127.0.0.1 stands where the server would be and the clock
stops when the client's first Initial arrives there (the client's start-up is all that is measured; the handshake would
only add the server's)."""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def run_help(cli):
    start = time.perf_counter()
    proc = subprocess.Popen(cli + ["--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"--help exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def run_first_packet(cli):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(30)
    port = sock.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen(cli + ["quic", "get", "-k", "--handshake-timeout", "30", f"https://127.0.0.1:{port}/x"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock.recvfrom(65536)
        first = time.perf_counter() - start
        cpu = process_cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sock.close()
    return first, cpu


def process_cpu_seconds(pid):
    """User + system CPU time a running process has used so far (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(name, values, unit_scale=1000.0):
    values = sorted(values)
    return (f"{name}: min {values[0] * unit_scale:.0f} ms, median {statistics.median(values) * unit_scale:.0f} ms, "
            f"max {values[-1] * unit_scale:.0f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cli", action="append",
                        help="command to run (repeat to compare builds); default: the ./fastrelay wrapper")
    args = parser.parse_args()
    clis = [c.split() for c in (args.cli or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fastrelay")])]

    for cli in clis:
        run_help(cli)  # builds the CLI through the wrapper when it is stale, and warms the page cache
    results = {i: {"help": [], "first": []} for i in range(len(clis))}
    for _ in range(args.runs):
        for i, cli in enumerate(clis):
            results[i]["help"].append(run_help(cli))
    for _ in range(args.runs):
        for i, cli in enumerate(clis):
            results[i]["first"].append(run_first_packet(cli))
    for i, cli in enumerate(clis):
        if len(clis) > 1:
            print(" ".join(cli))
        walls, cpus = zip(*results[i]["help"])
        print(summary("--help wall", walls))
        print(summary("--help CPU ", cpus))
        firsts, first_cpus = zip(*results[i]["first"])
        print(summary("quic get first packet wall", firsts))
        print(summary("quic get first packet CPU ", first_cpus))
    with open("/proc/loadavg") as f:
        print("load average:", " ".join(f.read().split()[:3]))


if __name__ == "__main__":
    main()
