#!/usr/bin/env bash
# Runs the MPI tests' runner in process N times with one seed and counts the distinct θ̂ checksums it ends on
# (docs/engine.md, "Determinism": one is the promise). Prints one line per distinct checksum with its count, and for each
# run that ended elsewhere than the first, where it parted from the first run (the first step whose loss differs, every
# worker there). Exit 1 when more than one checksum was seen.
#   bash build/determinism-check.sh [runs=100] [parallel=1] [runner settings…]
#   e.g. bash build/determinism-check.sh 200 2 workers=8 steps=100
# Defaults: the configuration CI saw part once (4 workers, 30 steps, H = 10, P = 2, τ = 1, FP4).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}; parallel=${2:-1}; shift $(( $# < 2 ? $# : 2 ))
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
runner=test/Microsoft.ML.DiLoCo.MpiRunner/bin/Release/net10.0/Microsoft.ML.DiLoCo.MpiRunner.dll
[ -f "$runner" ] || dotnet build -c Release test/Microsoft.ML.DiLoCo.MpiRunner -v quiet -nologo >/dev/null || exit 2
settings=(steps=30 innerSteps=10 fragments=2 overlap=1 workers=4 "$@")
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
echo "runner ${settings[*]}: $runs runs, $parallel at a time, $(nproc) cores"
seq 1 "$runs" | xargs -P "$parallel" -I{} sh -c "dotnet '$runner' ${settings[*]} 2>/dev/null | grep checksum > '$out/{}.json'"
python3 - "$out" "$runs" <<'EOF'
import json, sys, collections
folder, runs = sys.argv[1], int(sys.argv[2])
lines = {}
for i in range(1, runs + 1):
    try: lines[i] = json.loads(open(f"{folder}/{i}.json").read())
    except Exception: lines[i] = None
failed = [i for i, l in lines.items() if l is None]
sums = collections.Counter(l["checksum"][:16] for l in lines.values() if l)
for s, n in sums.most_common(): print(f"{n} runs ended on θ̂ {s}…")
if failed: print(f"{len(failed)} runs printed no result (runs {failed[:10]})")
first = next((l for l in lines.values() if l), None)
for i, l in lines.items():
    if not l or l["checksum"] == first["checksum"]: continue
    a, b = first["losses"], l["losses"]
    for s in range(max(len(w) for w in a)):
        diff = [f"worker {w} {a[w][s]!r} vs {b[w][s]!r}" for w in range(len(a)) if s < len(a[w]) and s < len(b[w]) and a[w][s] != b[w][s]]
        if diff: print(f"run {i} parted at step {s + 1}: " + ", ".join(diff)); break
    else: print(f"run {i}: every loss agrees; θ̂ parted in a sync after the last step")
sys.exit(1 if len(sums) > 1 or failed else 0)
EOF
