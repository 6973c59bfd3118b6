#!/usr/bin/env bash
# The overlap benchmark's point on a real shaped link (bash build/bench.sh overlap-link runs it and writes
# docs/benchmarks/overlap-link.md): 2 MPI ranks of the `diloco` tool, one worker each, in two network namespaces joined
# by a veth pair shaped with tc tbf (build/netns-lib.sh). Needs root, iproute2, Open MPI and the .NET SDK.
#
#   bash build/netns-overlap.sh RATE OUTDIR NAME=CONFIG.json [NAME=CONFIG.json ...]
#
# First one all-gather timing of 4 MB per rank over the link (OUTDIR/exchange.json: one JSON line per rank, the MPI
# test runner's mode=exchange), then per config `diloco train --config CONFIG --output-dir OUTDIR/NAME` across the
# link; rank 0 writes OUTDIR/NAME/report.json (its TrainingReport), rank 1 report.rank1.json. The configs must set
# "transport": "mpi" and one worker per rank.
set -euo pipefail
cd "$(dirname "$0")/.."
source build/netns-lib.sh
[ $# -ge 3 ] || { echo "usage: bash build/netns-overlap.sh RATE OUTDIR NAME=CONFIG.json..." >&2; exit 2; }
RATE="$1"; OUTDIR="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2
netns_require dotnet

dotnet build -c Release src/Examples/DiLoCo.Cli -v quiet -nologo
dotnet build -c Release test/Microsoft.ML.DiLoCo.MpiRunner -v quiet -nologo
CLI="$PWD/src/Examples/DiLoCo.Cli/bin/Release/net10.0/diloco.dll"
RUNNER="$PWD/test/Microsoft.ML.DiLoCo.MpiRunner/bin/Release/net10.0/Microsoft.ML.DiLoCo.MpiRunner.dll"

netns_up "$RATE"
echo "# all-gather of 4 MB per rank over the link"
netns_mpirun dotnet "$RUNNER" mode=exchange bytes=4000000 repeats=3 | grep -o '{.*}' | tee "$OUTDIR/exchange.json"
for run in "$@"; do
    name="${run%%=*}"; config="$(cd "$(dirname "${run#*=}")" && pwd)/$(basename "${run#*=}")"
    echo "# $name: diloco train --config $config, 2 ranks over the link"
    mkdir -p "$OUTDIR/$name"
    netns_mpirun dotnet "$CLI" train --config "$config" --output-dir "$OUTDIR/$name"
done
