#!/usr/bin/env bash
# Benchmarks (issue 5): programs that print tables and write docs/benchmarks/*.md, *.json, *.csv.
#   bash build/bench.sh quality [--quick|--full]     quality and bytes of every method (quick: minutes; full: hours)
#   bash build/bench.sh speed                        inner-step tokens/s beside PyTorch (needs python3-torch)
#   bash build/bench.sh overlap                      utilisation under a simulated link, 3 runs per point; bandwidth needed per utilisation (~12 min)
#   bash build/bench.sh overlap-link [--rate 20mbit] (root) the final method and data-parallel over a tc-shaped veth pair (~4 min)
# Run on an otherwise idle machine: timings are only comparable when nothing else holds a core.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mode="${1:-quality}"; shift || true
if [ "$mode" = "speed" ]; then
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread libjemalloc2
  fi
  # Same allocator for both peers (ENVIRONMENT.md): large vocabularies are allocation-bound otherwise.
  export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1
fi
dotnet build -c Release src/Benchmarks/DiLoCo.Benchmarks -v quiet -nologo
dotnet run -c Release --no-build --project src/Benchmarks/DiLoCo.Benchmarks -- "$mode" "$@"
