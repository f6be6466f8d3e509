#!/usr/bin/env bash
# Bulk HTTP/3 goodput on loopback: one 100 MB file, four pairings (client -> server):
#   ngtcp2 -> ngtcp2, ours -> ngtcp2, ngtcp2 -> ours, ours -> ours
# prints MB/s per pairing (best of RUNS) and each pairing's ratio against ngtcp2 -> ngtcp2. Not a test.
# Goodput is SIZE / (time to fetch the big file - time to fetch a 1-byte file) with the same client process kind, so
# process start-up (about 0.3 s for .NET, milliseconds for the C client) and the handshake are not counted as transfer.
# Usage: scripts/quic-goodput.sh [SIZE_MB (100)] [RUNS (3)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size_mb="${1:-100}"
runs="${2:-3}"
client_bin="$(command -v gtlsclient || echo /usr/bin/gtlsclient)"
server_bin="$(command -v gtlsserver || echo /usr/sbin/gtlsserver)"
for b in "$client_bin" "$server_bin"; do
  [ -x "$b" ] || { echo "quic-goodput: $b missing (apt-get install ngtcp2-client ngtcp2-server)" >&2; exit 1; }
done
"$root/fastrelay" --help >/dev/null # builds the CLI when needed
dll="$root/cli/bin/Release/net10.0/fastrelay.dll"

work="$(mktemp -d /tmp/fastrelay-goodput-XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/htdocs" "$work/dl"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/htdocs/bulk.bin"
head -c 1 /dev/urandom > "$work/htdocs/tiny.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_server() { # $1 = ngtcp2|ours, $2 = port
  if [ "$1" = ngtcp2 ]; then
    "$server_bin" -q -d "$work/htdocs" 127.0.0.1 "$2" "$work/key.pem" "$work/cert.pem" >"$work/server.log" 2>&1 &
    server_pid=$!
    sleep 0.5
  else
    dotnet "$dll" quic serve --root "$work/htdocs" --port "$2" --cert "$work/cert.pem" --key "$work/key.pem" >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
    grep -q "listening on" "$work/server.log" || { echo "our server did not start:"; cat "$work/server.log"; return 1; } >&2
  fi
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

fetch() { # $1 = ngtcp2|ours, $2 = port, $3 = file; prints seconds
  rm -f "$work/dl/$3"
  local start end
  start=$(date +%s.%N)
  if [ "$1" = ngtcp2 ]; then
    timeout 300 "$client_bin" -q --exit-on-all-streams-close --download "$work/dl" 127.0.0.1 "$2" "https://127.0.0.1:$2/$3" >"$work/client.log" 2>&1
  else
    timeout 300 dotnet "$dll" quic get --insecure -o "$work/dl/$3" "https://127.0.0.1:$2/$3" >"$work/client.log" 2>&1
  fi
  end=$(date +%s.%N)
  cmp -s "$work/htdocs/$3" "$work/dl/$3" || { echo "corrupt or missing download:"; tail -20 "$work/client.log"; return 1; } >&2
  echo "$end - $start" | bc -l
}

declare -A mbps
for pairing in "ngtcp2 ngtcp2" "ours ngtcp2" "ngtcp2 ours" "ours ours"; do
  read -r client server <<<"$pairing"
  name="$client->$server"
  best=""
  port=$(free_port)
  if start_server "$server" "$port"; then
    overhead=""
    for _ in $(seq "$runs"); do
      if secs=$(fetch "$client" "$port" tiny.bin); then
        if [ -z "$overhead" ] || (( $(echo "$secs < $overhead" | bc -l) )); then overhead=$secs; fi
      fi
    done
    for _ in $(seq "$runs"); do
      if [ -n "$overhead" ] && secs=$(fetch "$client" "$port" bulk.bin); then
        rate=$(echo "$size_mb / ($secs - $overhead)" | bc -l)
        if [ -z "$best" ] || (( $(echo "$rate > $best" | bc -l) )); then best=$rate; fi
      fi
    done
  fi
  stop_server
  mbps[$name]="${best:-0}"
  if [ -n "$best" ]; then printf '%-16s %8.1f MB/s   (start-up + handshake %.3f s, not counted)\n' "$name" "$best" "$overhead"; else printf '%-16s   failed\n' "$name"; fi
done

base="${mbps[ngtcp2->ngtcp2]}"
if (( $(echo "$base > 0" | bc -l) )); then
  echo "ratios vs ngtcp2->ngtcp2:"
  for name in "ours->ngtcp2" "ngtcp2->ours" "ours->ours"; do
    printf '  %-14s %6.2f\n' "$name" "$(echo "${mbps[$name]} / $base" | bc -l)"
  done
fi
