#!/usr/bin/env bash
# Where a MoQ object's one-way latency goes on the QUIC kernel fast path (issue 11's "what limits p50"): runs
# `fastrelay bench --profile moq --relay-mode fastpath` at one fan-out and captures the lab's publisher and subscriber
# devices with tcpdump while the window runs. Fast-path packets are clear text (disable_1rtt_encryption), so each
# object's stamp (ObjectPayloadHeader: "MQFR" magic, CLOCK_REALTIME µs at +32) is read from the packets and set against
# the capture times (CLOCK_REALTIME too). Prints, per object (p10/p50/p90 µs after the publisher's stamp):
#   publisher wire  - the object's last packet left the publisher's device (the publisher's own stack)
#   subscriber wire - it reached the subscriber's device (+ the relay's kernel path and two veth hops)
#   application     - the bench's figure (the subscriber's stack had the whole object)
# The userspace relay's packets are encrypted, so this split exists for the fast path only. Not a test.
# Usage: scripts/moq-latency-split.sh [FANOUT] [SECONDS]
set -euo pipefail
fanout="${1:-1}"
seconds="${2:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v tcpdump >/dev/null || apt-get install -y -q tcpdump >/dev/null
command -v python3 >/dev/null || apt-get install -y -q python3 >/dev/null
prefix="frls$(printf '%04x' $((RANDOM % 65536)))"
work="$(mktemp -d /tmp/fastrelay-latency-split-XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$root/fastrelay" bench --profile moq --relay-mode fastpath --no-sweep --no-floor --repetitions 1 \
  --subscribers "$fanout" --duration "$seconds" --lab-prefix "$prefix" > "$work/bench.log" 2>&1 &
bench=$!
# The window starts a warm-up after the first object: capture from the "fan-out N: ... window" line on.
for _ in $(seq 1 120); do grep -q "fan-out .*objects/s, " "$work/bench.log" && break; sleep 0.5; done
grep -q "fan-out .*objects/s, " "$work/bench.log" || { cat "$work/bench.log" >&2; exit 1; }
sleep 1
for side in pub s0; do
  timeout "$seconds" ip netns exec "$prefix-$side" tcpdump -i eth0 -nn -s 256 --time-stamp-precision=nano \
    -w "$work/$side.pcap" udp 2>/dev/null &
done
wait "$bench" || { cat "$work/bench.log" >&2; exit 1; }
wait || true
python3 - "$work/pub.pcap" "$work/s0.pcap" <<'PY'
import struct, sys
def objects(path):
    """Per object (its stamp): the capture time of its last packet (packets of one object follow its first)."""
    data = open(path, 'rb').read()
    nano = struct.unpack('<I', data[:4])[0] == 0xa1b23c4d
    off, out, current = 24, [], None
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack('<IIII', data[off:off + 16]); off += 16
        pkt = data[off:off + incl]; off += incl
        t = sec * 1e6 + (frac / 1000.0 if nano else frac)
        if orig < 200: continue  # ACKs and control
        i = pkt.find(b'MQFR')
        if i >= 0 and i + 40 <= len(pkt):
            if current: out.append(current)
            current = [struct.unpack('>q', pkt[i + 32:i + 40])[0], t]
        elif current: current[1] = t
    if current: out.append(current)
    return {stamp: t - stamp for stamp, t in out}
def line(name, values):
    v = sorted(values)
    if not v: print(f"{name:16} no objects captured"); return
    print(f"{name:16} {len(v):5} objects  p10 {v[len(v)//10]:7.0f}  p50 {v[len(v)//2]:7.0f}  p90 {v[len(v)*9//10]:7.0f} µs")
pub, sub = objects(sys.argv[1]), objects(sys.argv[2])
line("publisher wire", pub.values())
line("subscriber wire", sub.values())
line("kernel path", [sub[s] - pub[s] for s in sub if s in pub])
PY
grep -E "fan-out +$fanout: p50" "$work/bench.log" | sed 's/^/application      (bench) /'
