#!/usr/bin/env bash
# Packs FastRelay's NuGet packages into a local feed folder: FastRelay.Descriptors (the attributes a protocol project
# references), FastRelay.Generator (analyzer + the gen-after-build targets), FastRelay.Runtime, FastRelay.Protocols.Quic,
# FastRelay.Protocols.Moq and the `fastrelay` .NET tool. The version is the one in Directory.Build.props.
#   scripts/pack.sh [--no-build] OUTDIR      then: dotnet tool install -g fastrelay --add-source OUTDIR
# --no-build packs what the last Release build left (the packaging test uses it after `dotnet build -c Release`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
no_build=false
if [ "${1:-}" = "--no-build" ]; then
  no_build=true
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--no-build] OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"

projects=(
  runtime/Descriptors/FastRelay.Descriptors.csproj
  runtime/FastRelay.Runtime.csproj
  generator/FastRelay.Generator.csproj
  protocols/quic/FastRelay.Protocols.Quic.csproj
  protocols/quic/moq/FastRelay.Protocols.Moq.csproj
  cli/FastRelay.Cli.csproj
)
# Build first, as a plain `dotnet build` does, then pack what it left: `dotnet pack` evaluates the CLI without its
# runtime identifier (the tool package stays RID-agnostic, docs/startup.md), so letting it build would overwrite the
# ReadyToRun-compiled CLI in cli/bin/ (what ./fastrelay runs) with plain IL.
if [ "$no_build" = false ]; then
  for p in "${projects[@]}"; do
    dotnet build "$root/$p" -c Release -nologo -v:q -clp:ErrorsOnly >&2
  done
fi
for p in "${projects[@]}"; do
  dotnet pack "$root/$p" -c Release --no-build -o "$out" -nologo -v:q -clp:ErrorsOnly >&2
done
ls "$out"/*.nupkg
