#!/usr/bin/env bash
# Installs everything FastRelay needs on Debian 12 (run as root) and builds the solution. Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(clang llvm libbpf-dev libbpf1 bpftool iproute2 ethtool ngtcp2-client ngtcp2-server chromium ffmpeg)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK is required (dotnet on PATH); Debian's archive does not carry it" >&2
  exit 1
fi

# bpffs and tracefs are needed to pin maps and read verifier output; mount them when a fresh machine lacks them.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
# tracefs: the MoQ bench's syscall counter attaches to raw_syscalls:sys_enter (libbpf reads the tracepoint's id there);
# without it the bench reports no syscall figures and SyscallCounterTests fail.
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true

# Browser tests (headless Chromium + @moq/net): exact versions from tests/browser/package-lock.json, test-only folder.
# Node.js comes from Debian's archive when the machine has none; npm ci runs again only when the lock file changed.
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing nodejs npm" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm >&2
  else
    echo "setup: npm not found and not root: the @moq/net browser tests will be skipped (and fail under CI=true)" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  # tests/browser: the browser tests' bundle; cli/Moq/Viewer: the `fastrelay moq relay --web` viewer's (the CLI build
  # copies it to moq-viewer/). Both pinned by their package-lock.json; npm ci again only when that lock changed.
  for npm_dir in "$root/tests/browser" "$root/cli/Moq/Viewer"; do
    stamp="$npm_dir/node_modules/.fastrelay-lock.sha256"
    lock_hash="$(sha256sum "$npm_dir/package-lock.json" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
      echo "setup: npm ci in ${npm_dir#$root/}" >&2
      (cd "$npm_dir" && npm ci --no-audit --no-fund >&2) && echo "$lock_hash" > "$stamp"
    fi
    (cd "$npm_dir" && npm run --silent bundle >&2)
  done
fi

echo "setup: restoring and building" >&2
dotnet build "$root/Toolkit.sln" -c Release -nologo -v:q -clp:ErrorsOnly >&2
touch "$root/cli/bin/Release/net10.0/fastrelay.dll"
