#!/usr/bin/env bash
# A/B of server builds: ngtcp2's client (gtlsclient) downloads one 100 MB file from gtlsserver and from each given
# build of `quic serve`, round robin (one fetch per server per round, so every server sees the same mix of machine
# load), and prints per server the median MB/s of whole fetches (handshake included), the server's median CPU
# seconds per 100 MB (user + system, all threads) and both as ratios against gtlsserver. Not a test.
# Usage: scripts/quic-goodput-ab.sh ROUNDS LABEL=PATH/TO/fastrelay.dll[,SERVE OPTIONS] ...
#   e.g. scripts/quic-goodput-ab.sh 10 before=/tmp/before/fastrelay.dll after=cli/bin/Release/net10.0/fastrelay.dll \
#        "cubic=cli/bin/Release/net10.0/fastrelay.dll,--cc Cubic"
# (copy cli/bin/Release/net10.0 somewhere before rebuilding to keep a "before" build).
set -euo pipefail
rounds="${1:?usage: quic-goodput-ab.sh ROUNDS LABEL=DLL[,OPTIONS] ...}"
shift
[ $# -gt 0 ] || { echo "quic-goodput-ab: no build given" >&2; exit 1; }
client_bin="$(command -v gtlsclient || echo /usr/bin/gtlsclient)"
server_bin="$(command -v gtlsserver || echo /usr/sbin/gtlsserver)"
for b in "$client_bin" "$server_bin"; do
  [ -x "$b" ] || { echo "quic-goodput-ab: $b missing (apt-get install ngtcp2-client ngtcp2-server)" >&2; exit 1; }
done
ticks="$(getconf CLK_TCK)"
work="$(mktemp -d /tmp/fastrelay-goodput-ab-XXXXXX)"
declare -A pid port
labels=(ngtcp2)
cleanup() {
  for l in "${labels[@]}"; do [ -n "${pid[$l]:-}" ] && { kill "${pid[$l]}" 2>/dev/null || true; wait "${pid[$l]}" 2>/dev/null || true; }; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/htdocs" "$work/dl"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/htdocs/bulk.bin"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$work/htdocs/warm.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port[ngtcp2]=$(free_port)
"$server_bin" -q -d "$work/htdocs" 127.0.0.1 "${port[ngtcp2]}" "$work/key.pem" "$work/cert.pem" >"$work/server-ngtcp2.log" 2>&1 &
pid[ngtcp2]=$!
for spec in "$@"; do
  label="${spec%%=*}" rest="${spec#*=}"
  dll="${rest%%,*}" options=""
  [ "$rest" != "$dll" ] && options="${rest#*,}"
  [ -f "$dll" ] || { echo "quic-goodput-ab: $dll not found" >&2; exit 1; }
  labels+=("$label")
  port[$label]=$(free_port)
  # shellcheck disable=SC2086 # options is a list of `quic serve` options
  dotnet "$dll" quic serve --root "$work/htdocs" --port "${port[$label]}" --cert "$work/cert.pem" --key "$work/key.pem" $options \
    >"$work/server-$label.log" 2>&1 &
  pid[$label]=$!
done
for l in "${labels[@]}"; do
  [ "$l" = ngtcp2 ] && continue
  for _ in $(seq 100); do grep -q "listening on" "$work/server-$l.log" && break; sleep 0.1; done
  grep -q "listening on" "$work/server-$l.log" || { echo "$l did not start:"; cat "$work/server-$l.log"; exit 1; } >&2
done

cpu() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
fetch() { # label [file] -> "MB/s cpu_s" (MB/s as if 100 MB)
  local p="${port[$1]}" file="${2:-bulk.bin}" c0 c1 t0 t1
  rm -f "$work/dl/$file"
  c0=$(cpu "${pid[$1]}"); t0=$(date +%s.%N)
  timeout 300 "$client_bin" -q --exit-on-all-streams-close --download "$work/dl" 127.0.0.1 "$p" "https://127.0.0.1:$p/$file" >"$work/client.log" 2>&1
  t1=$(date +%s.%N); c1=$(cpu "${pid[$1]}")
  cmp -s "$work/htdocs/$file" "$work/dl/$file" || { echo "$1: corrupt or missing download" >&2; return 1; }
  echo "$(echo "100 / ($t1 - $t0)" | bc -l) $(echo "$c1 - $c0" | bc -l)"
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
# Warm-up: our CLI compiles each method fully optimised on its first call (no tiered JIT), a cost of the first transfer.
for l in "${labels[@]}"; do : >"$work/results-$l"; fetch "$l" warm.bin >/dev/null || true; done
for _ in $(seq "$rounds"); do
  for l in "${labels[@]}"; do fetch "$l" >>"$work/results-$l" || true; done
done

echo "$rounds rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
base_rate=$(cut -d' ' -f1 "$work/results-ngtcp2" | median)
base_cpu=$(cut -d' ' -f2 "$work/results-ngtcp2" | median)
for l in "${labels[@]}"; do
  [ -s "$work/results-$l" ] || { printf '%-12s failed\n' "$l"; continue; }
  rate=$(cut -d' ' -f1 "$work/results-$l" | median)
  cpu_s=$(cut -d' ' -f2 "$work/results-$l" | median)
  printf '%-12s %7.1f MB/s (%s)  server CPU %.2f s   vs gtlsserver: MB/s %.2f, CPU %.2f\n' "$l" "$rate" \
    "$(cut -d' ' -f1 "$work/results-$l" | xargs printf '%.0f ' | sed 's/ $//')" "$cpu_s" \
    "$(echo "$rate / $base_rate" | bc -l)" "$(echo "$cpu_s / $base_cpu" | bc -l)"
done
