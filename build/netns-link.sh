#!/usr/bin/env bash
# Two MPI ranks in two network namespaces joined by one veth pair shaped with tc tbf: a real slow link on one machine,
# to check the link model (LinkModelCollective) against it. Needs root, iproute2 (ip, tc), Open MPI, and the built
# solution (dotnet build -c Release). The link itself (namespaces, tbf, mpirun across them, clean-up on exit) is
# build/netns-lib.sh; build/netns-overlap.sh uses the same link for the overlap benchmark.
#
#   sudo bash build/netns-link.sh                 # 100 Mbit/s each way
#   RATE=20mbit RATE_BITS=20e6 SIZES="1000000 4000000" bash build/netns-link.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source build/netns-lib.sh

RATE="${RATE:-100mbit}"                    # tc rate, per direction
RATE_BITS="${RATE_BITS:-100e6}"            # the same rate in bits/s, for the link model's prediction
SIZES="${SIZES:-1000000 4000000 16000000}" # bytes per rank per all-gather
REPEATS="${REPEATS:-5}"
TRAIN="${TRAIN:-1}"                        # 0 = skip the training runs
CONFIGURATION="${CONFIGURATION:-Release}"
RUNNER="$PWD/test/Microsoft.ML.DiLoCo.MpiRunner/bin/$CONFIGURATION/net10.0/Microsoft.ML.DiLoCo.MpiRunner.dll"

netns_require dotnet
[ -f "$RUNNER" ] || { echo "netns-link.sh: $RUNNER not built: run dotnet build -c $CONFIGURATION" >&2; exit 1; }
netns_up "$RATE"

runner() { netns_mpirun dotnet "$RUNNER" "$@" | grep -o '{.*}'; }

echo "# all-gather of a known payload, real shaped link (predictedSeconds = the link model for $RATE_BITS bit/s, no latency)"
for bytes in $SIZES; do
    runner mode=exchange "bytes=$bytes" "repeats=$REPEATS" "bandwidthBits=$RATE_BITS"
done

if [ "$TRAIN" = 1 ]; then
    # A model large enough that one FP32 fragment takes ~0.1 s on the link: d = 128, 4 layers (~0.9 M parameters).
    common=(transport=mpi steps=60 innerSteps=20 fragments=2 wire=float32 embedding=128 layers=4 documents=60 timeout=120)
    for overlap in 0 5; do
        echo "# training over the shaped link, overlap=$overlap (per-sync exchange and wait seconds of rank 0's worker)"
        runner "${common[@]}" "overlap=$overlap"
    done
fi
