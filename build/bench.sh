#!/usr/bin/env bash
# Benchmarks (issue 5): programs that print tables and write docs/benchmarks/*.md, *.json, *.csv, *.png, and
# docs/benchmarks.md assembled from those section files and docs/benchmarks/header.md.
#   bash build/bench.sh all [--quick|--medium|--full]   quality (quick tier unless told), overlap(-link), speed, scoring, document
#   bash build/bench.sh quality [--quick|--medium|--full] quality and bytes of every method (quick ~20 min, medium ~3 h with its learning-rate search, full: a day)
#   bash build/bench.sh quality-tables [--TIER]          re-render the quality section from quality-<tier>.json (no training)
#   bash build/bench.sh overlap                          utilisation under a simulated link, 3 runs per point; bandwidth needed per utilisation (~12 min)
#   bash build/bench.sh overlap-tables                   re-render the overlap section and plot from overlap.json (no run)
#   bash build/bench.sh overlap-link [--rate 20mbit]     (root) the final method and data-parallel over a tc-shaped veth pair (~4 min)
#   bash build/bench.sh speed                            inner-step tokens/s beside PyTorch (installs python3-torch if missing)
#   bash build/bench.sh scoring                          forward pass vs Transform vs PredictionEngine; generation with/without KV cache (~5 min)
#   bash build/bench.sh scoring-tables [--commit SHA]    re-render the scoring section and plot from scoring.json (no measuring)
#   bash build/bench.sh sealing                          cost of sealed exchanges: bytes per message, seal + open per fragment (seconds)
#   bash build/bench.sh study [--series NAME] [--next]  issue 13's quality study (length 2×/4×, options, H × format, batch, width): many hours, resumable; --next: what runs next
#   bash build/bench.sh study-tables                    re-render the study section from study-partial.json (no training)
#   bash build/bench.sh comm [--TIER]                    the communication table alone, from the newest (or named) quality-<tier>.json
#   bash build/bench.sh document [--TIER]                assemble docs/benchmarks.md from the section files (no run)
# Run on an otherwise idle machine: timings are only comparable when nothing else holds a core.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

usage() {
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

modes="quality quality-tables study study-tables overlap overlap-tables overlap-link speed scoring scoring-tables sealing comm document all"
mode="${1:-}"
[ -n "$mode" ] && [[ " $modes " == *" $mode "* ]] || usage
shift

# One benchmark in its own process (torch threads, allocator and environment stay per benchmark).
run() {
  local benchmark="$1"; shift
  if [ "$benchmark" = "speed" ]; then
    if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
      apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread libjemalloc2
    fi
    # Same allocator for both peers (ENVIRONMENT.md): large vocabularies are allocation-bound otherwise.
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1 \
      dotnet run -c Release --no-build --project src/Benchmarks/DiLoCo.Benchmarks -- speed "$@"
  else
    dotnet run -c Release --no-build --project src/Benchmarks/DiLoCo.Benchmarks -- "$benchmark" "$@"
  fi
}

dotnet build -c Release src/Benchmarks/DiLoCo.Benchmarks -v quiet -nologo

if [ "$mode" != "all" ]; then
  run "$mode" "$@"
  exit
fi

# all: the tier flags (and --steps) go to quality and document; --out DIR goes to every benchmark.
tier=(--quick) common=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick|--medium|--full) tier=("$1") ;;
    --steps) tier+=("$1" "$2"); shift ;;
    --out) common+=("$1" "$2"); shift ;;
    *) echo "bench.sh all: unknown option '$1'" >&2; usage ;;
  esac
  shift
done
run quality "${tier[@]}" "${common[@]}"
# The real shaped link needs root (network namespaces, tc); its points join the overlap plot, so it runs first.
if [ "$(id -u)" = 0 ] && command -v tc >/dev/null && command -v mpirun >/dev/null; then run overlap-link "${common[@]}"; fi
run overlap "${common[@]}"
run speed "${common[@]}"
run scoring "${common[@]}"
run sealing "${common[@]}"
run document "${common[@]}"   # every quality tier present, the longest first
