#!/usr/bin/env bash
# Bulk HTTP/3 goodput on loopback: one file (100 MB), four pairings (client -> server):
#   ngtcp2 -> ngtcp2, ours -> ngtcp2, ngtcp2 -> ours, ours -> ours
# Not a test. Per pairing it prints the median MB/s of RUNS fetches (and their range), the server's and the client's
# CPU seconds per 100 MB (user + system, all threads; the client's minus what its 1-byte fetch took), and each pairing's ratio against ngtcp2 -> ngtcp2.
# Goodput is SIZE / (time to fetch the big file - time to fetch a 1-byte file) with the same client, so start-up and
# handshake are not counted as transfer. ngtcp2's client: process wall-clock times (it starts in milliseconds). Ours:
# the request times `quic get` prints itself, because its process start-up (about 1.2 s of fully optimised JIT, more
# under load) varied by more than a 100 MB transfer takes and made subtracted wall-clock rates meaningless (negative).
# Both servers run for the whole script and the pairings take turns fetch by fetch (round robin, RUNS rounds): on a
# shared machine the load moves within seconds, and pairings measured one after the other measured different loads
# (ratios from 0.65 to 1.3 for the same build). CPU per 100 MB moves much less with the load than MB/s does.
# Usage: scripts/quic-goodput.sh [SIZE_MB (100)] [RUNS (5)]
#   GOODPUT_PAIRINGS="ngtcp2>ngtcp2 ngtcp2>ours" limits the pairings; GOODPUT_SERVER_ARGS adds `quic serve` options.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size_mb="${1:-100}"
runs="${2:-5}"
pairings="${GOODPUT_PAIRINGS:-ngtcp2>ngtcp2 ours>ngtcp2 ngtcp2>ours ours>ours}"
client_bin="$(command -v gtlsclient || echo /usr/bin/gtlsclient)"
server_bin="$(command -v gtlsserver || echo /usr/sbin/gtlsserver)"
for b in "$client_bin" "$server_bin"; do
  [ -x "$b" ] || { echo "quic-goodput: $b missing (apt-get install ngtcp2-client ngtcp2-server)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "quic-goodput: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
"$root/fastrelay" --help >/dev/null # builds the CLI when needed
dll="$root/cli/bin/Release/net10.0/fastrelay.dll"
ticks="$(getconf CLK_TCK)"

work="$(mktemp -d /tmp/fastrelay-goodput-XXXXXX)"
declare -A server_pid port
cleanup() {
  for s in "${!server_pid[@]}"; do kill "${server_pid[$s]}" 2>/dev/null || true; wait "${server_pid[$s]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/htdocs" "$work/dl"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/htdocs/bulk.bin"
head -c 1 /dev/urandom > "$work/htdocs/tiny.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_server() { # $1 = ngtcp2|ours
  local p; p=$(free_port)
  port[$1]=$p
  if [ "$1" = ngtcp2 ]; then
    "$server_bin" -q -d "$work/htdocs" 127.0.0.1 "$p" "$work/key.pem" "$work/cert.pem" >"$work/server-$1.log" 2>&1 &
    server_pid[$1]=$!
    sleep 0.5
  else
    # shellcheck disable=SC2086 # GOODPUT_SERVER_ARGS is a list of options
    dotnet "$dll" quic serve --root "$work/htdocs" --port "$p" --cert "$work/cert.pem" --key "$work/key.pem" ${GOODPUT_SERVER_ARGS:-} \
      >"$work/server-$1.log" 2>&1 &
    server_pid[$1]=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/server-$1.log" && break; sleep 0.1; done
    grep -q "listening on" "$work/server-$1.log" || { echo "our server did not start:"; cat "$work/server-$1.log"; return 1; } >&2
  fi
}

server_cpu() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/${server_pid[$1]}/stat"; } # seconds, all threads

fetch() { # $1 = client ngtcp2|ours, $2 = server, $3 = file; prints "seconds server_cpu_s client_cpu_s"
  local p="${port[$2]}" start end c0 c1
  rm -f "$work/dl/$3"
  c0=$(server_cpu "$2")
  start=$(date +%s.%N)
  if [ "$1" = ngtcp2 ]; then
    timeout 300 /usr/bin/time -f "%U %S" -o "$work/client.time" \
      "$client_bin" -q --exit-on-all-streams-close --download "$work/dl" 127.0.0.1 "$p" "https://127.0.0.1:$p/$3" >"$work/client.log" 2>&1
  else
    timeout 300 /usr/bin/time -f "%U %S" -o "$work/client.time" \
      dotnet "$dll" quic get --insecure -o "$work/dl/$3" "https://127.0.0.1:$p/$3" >"$work/client.log" 2>&1
  fi
  end=$(date +%s.%N)
  c1=$(server_cpu "$2")
  cmp -s "$work/htdocs/$3" "$work/dl/$3" || { echo "$1->$2: corrupt or missing download:"; tail -20 "$work/client.log"; return 1; } >&2
  local secs; secs=$(echo "$end - $start" | bc -l)
  # `quic get` prints "<url>: status 200, <n> bytes, <ms> ms, ...": the request's own time, without the process start.
  if [ "$1" = ours ]; then secs=$(sed -n 's/^.*: status 200, [0-9]* bytes, \([0-9.]*\) ms.*$/\1/p' "$work/client.log" | head -1 | awk '{print $1 / 1000}'); fi
  [ -n "$secs" ] || { echo "$1->$2: no request time in the client's output:"; tail -5 "$work/client.log"; return 1; } >&2
  echo "$secs $(echo "$c1 - $c0" | bc -l) $(awk '{print $1 + $2}' "$work/client.time")"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for s in ngtcp2 ours; do
  if [[ " $pairings " == *">$s "* ]]; then start_server "$s"; fi
done

# Start-up + handshake per pairing: the fastest of RUNS 1-byte fetches (and the client's least CPU for one).
declare -A overhead overhead_cpu rates server_cpus client_cpus
for pairing in $pairings; do
  client="${pairing%>*}" server="${pairing#*>}"
  for _ in $(seq "$runs"); do
    if r=$(fetch "$client" "$server" tiny.bin); then
      read -r secs _ ccpu <<<"$r"
      if [ -z "${overhead[$pairing]:-}" ] || (( $(echo "$secs < ${overhead[$pairing]}" | bc -l) )); then overhead[$pairing]=$secs; fi
      if [ -z "${overhead_cpu[$pairing]:-}" ] || (( $(echo "$ccpu < ${overhead_cpu[$pairing]}" | bc -l) )); then overhead_cpu[$pairing]=$ccpu; fi
    fi
  done
done
for _ in $(seq "$runs"); do
  for pairing in $pairings; do
    [ -n "${overhead[$pairing]:-}" ] || continue
    client="${pairing%>*}" server="${pairing#*>}"
    if r=$(fetch "$client" "$server" bulk.bin); then
      read -r secs scpu ccpu <<<"$r"
      rates[$pairing]+="$(echo "$size_mb / ($secs - ${overhead[$pairing]})" | bc -l) "
      server_cpus[$pairing]+="$(echo "$scpu * 100 / $size_mb" | bc -l) "
      client_cpus[$pairing]+="$(echo "($ccpu - ${overhead_cpu[$pairing]}) * 100 / $size_mb" | bc -l) "
    fi
  done
done

echo "$size_mb MB, $runs rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %9s  %-28s %12s %12s\n' "client->server" "MB/s" "(each round)" "server CPU" "client CPU"
declare -A med
for pairing in $pairings; do
  name="${pairing/>/->}"
  if [ -z "${rates[$pairing]:-}" ]; then printf '%-16s   failed\n' "$name"; continue; fi
  med[$pairing]=$(tr ' ' '\n' <<<"${rates[$pairing]}" | grep . | median)
  printf '%-16s %9.1f  %-28s %10.2f s %10.2f s   (per 100 MB; 1-byte fetch %.3f s not counted)\n' "$name" "${med[$pairing]}" \
    "($(printf '%.0f ' ${rates[$pairing]} | sed 's/ $//'))" \
    "$(tr ' ' '\n' <<<"${server_cpus[$pairing]}" | grep . | median)" "$(tr ' ' '\n' <<<"${client_cpus[$pairing]}" | grep . | median)" \
    "${overhead[$pairing]}"
done

base="${med[ngtcp2>ngtcp2]:-0}"
if (( $(echo "$base > 0" | bc -l) )); then
  echo "median MB/s vs ngtcp2->ngtcp2:"
  for pairing in $pairings; do
    [ "$pairing" = "ngtcp2>ngtcp2" ] || [ -z "${med[$pairing]:-}" ] && continue
    printf '  %-14s %6.2f\n' "${pairing/>/->}" "$(echo "${med[$pairing]} / $base" | bc -l)"
  done
fi
