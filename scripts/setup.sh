#!/usr/bin/env bash
# Installs everything FastRelay needs on Debian 12 (run as root) and builds the solution. Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(clang llvm libbpf-dev libbpf1 bpftool iproute2 ethtool ngtcp2-client ngtcp2-server chromium)
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

# Browser tests (headless Chromium + @moq/net): exact versions from tests/browser/package-lock.json, test-only folder.
if command -v npm >/dev/null 2>&1; then
  echo "setup: npm ci in tests/browser" >&2
  (cd "$root/tests/browser" && npm ci --no-audit --no-fund >&2 && npm run --silent bundle >&2)
  # The `fastrelay moq relay --web` viewer's @moq/net bundle (same pinned versions; the CLI build copies it to moq-viewer/).
  echo "setup: npm ci in cli/Moq/Viewer" >&2
  (cd "$root/cli/Moq/Viewer" && npm ci --no-audit --no-fund >&2 && npm run --silent bundle >&2)
else
  echo "setup: npm not found: the @moq/net browser tests will be skipped (and fail under CI=true), and moq relay --web has no viewer" >&2
fi

echo "setup: restoring and building" >&2
dotnet build "$root/Toolkit.sln" -c Release -nologo -v:q -clp:ErrorsOnly >&2
touch "$root/cli/bin/Release/net10.0/fastrelay.dll"
