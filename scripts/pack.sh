#!/usr/bin/env bash
# Packs FastRelay's NuGet packages into a local feed folder: FastRelay.Descriptors (the attributes a protocol project
# references), FastRelay.Generator (analyzer + the gen-after-build targets), FastRelay.Runtime, FastRelay.Protocols.Quic,
# FastRelay.Protocols.Moq and the `fastrelay` .NET tool. The version is the one in Directory.Build.props.
#   scripts/pack.sh [--no-build] OUTDIR      then: dotnet tool install -g fastrelay --add-source OUTDIR
# --no-build packs what the last Release build left (the packaging test uses it after `dotnet build -c Release`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=()
if [ "${1:-}" = "--no-build" ]; then
  build=(--no-build)
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--no-build] OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"

# One pack per package; each builds what its project needs (already built ones are up to date by then).
projects=(
  runtime/Descriptors/FastRelay.Descriptors.csproj
  runtime/FastRelay.Runtime.csproj
  generator/FastRelay.Generator.csproj
  protocols/quic/FastRelay.Protocols.Quic.csproj
  protocols/quic/moq/FastRelay.Protocols.Moq.csproj
  cli/FastRelay.Cli.csproj
)
for p in "${projects[@]}"; do
  dotnet pack "$root/$p" -c Release "${build[@]}" -o "$out" -nologo -v:q -clp:ErrorsOnly >&2
done
ls "$out"/*.nupkg
