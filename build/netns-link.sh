#!/usr/bin/env bash
# Two MPI ranks in two network namespaces joined by one veth pair shaped with tc tbf: a real slow link on one machine,
# to check the link model (LinkModelCollective) against it. Needs root, iproute2 (ip, tc), Open MPI, and the built
# solution (dotnet build -c Release). Traffic goes only over the veth pair, whose addresses exist only inside the two
# namespaces; both are deleted on exit.
#
#   sudo bash build/netns-link.sh                 # 100 Mbit/s each way
#   RATE=20mbit SIZES="1000000 4000000" bash build/netns-link.sh
#
# How the ranks get into the namespaces: mpirun itself runs inside namespace A (rank 0 is local to it); for the other
# "host" it calls its rsh agent, which is a small script here that maps the address to namespace B and runs the
# command through `ip netns exec` instead of ssh. Open MPI's out-of-band channel and its TCP transport are both
# restricted to the veth subnet, so everything between the ranks crosses the shaped link.
# netem is not in every kernel (not in ours): the link has bandwidth but no added latency; tbf queues up to 400 ms.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE="${RATE:-100mbit}"                    # tc rate, per direction
RATE_BITS="${RATE_BITS:-100e6}"            # the same rate in bits/s, for the link model's prediction
SIZES="${SIZES:-1000000 4000000 16000000}" # bytes per rank per all-gather
REPEATS="${REPEATS:-5}"
TRAIN="${TRAIN:-1}"                        # 0 = skip the training runs
CONFIGURATION="${CONFIGURATION:-Release}"
RUNNER="$PWD/test/Microsoft.ML.DiLoCo.MpiRunner/bin/$CONFIGURATION/net10.0/Microsoft.ML.DiLoCo.MpiRunner.dll"

[ "$(id -u)" = 0 ] || { echo "netns-link.sh: needs root (network namespaces, tc)" >&2; exit 1; }
for tool in ip tc mpirun dotnet; do command -v "$tool" >/dev/null || { echo "netns-link.sh: $tool not found" >&2; exit 1; }; done
[ -f "$RUNNER" ] || { echo "netns-link.sh: $RUNNER not built: run dotnet build -c $CONFIGURATION" >&2; exit 1; }

# Names carry the PID so that two runs cannot collide; interface names stay under 15 characters.
NS_A="diloco-$$-a"; NS_B="diloco-$$-b"
VETH_A="dlc$$a"; VETH_B="dlc$$b"
SUBNET="10.213.7.0/30"; ADDR_A="10.213.7.1"; ADDR_B="10.213.7.2"
WORK="$(mktemp -d)"

cleanup() {
    ip netns del "$NS_A" 2>/dev/null || true   # deleting a namespace deletes its end of the veth pair, and so the pair
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "$VETH_A" type veth peer name "$VETH_B"
ip link set "$VETH_A" netns "$NS_A"
ip link set "$VETH_B" netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/30" dev "$VETH_A"
ip -n "$NS_B" addr add "$ADDR_B/30" dev "$VETH_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set "$VETH_A" up
ip -n "$NS_B" link set "$VETH_B" up
# Each end shapes what it sends, so both directions are limited.
ip netns exec "$NS_A" tc qdisc add dev "$VETH_A" root tbf rate "$RATE" burst 32kbit latency 400ms
ip netns exec "$NS_B" tc qdisc add dev "$VETH_B" root tbf rate "$RATE" burst 32kbit latency 400ms

cat > "$WORK/agent.sh" <<EOF
#!/bin/sh
# mpirun's "remote shell": \$1 is the host, the rest the command line to run there.
host="\$1"; shift
case "\$host" in
  $ADDR_A) ns="$NS_A" ;;
  $ADDR_B) ns="$NS_B" ;;
  *) echo "agent.sh: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$WORK/agent.sh"

mpi() {
    ip netns exec "$NS_A" mpirun --allow-run-as-root -np 2 --host "$ADDR_A:1,$ADDR_B:1" \
        --mca plm_rsh_agent "$WORK/agent.sh" \
        --mca btl tcp,self --mca btl_tcp_if_include "$SUBNET" --mca oob_tcp_if_include "$SUBNET" \
        -x OMP_WAIT_POLICY=PASSIVE -x DOTNET_CLI_TELEMETRY_OPTOUT=1 -x DOTNET_NOLOGO=1 "$@" \
        dotnet "$RUNNER" "${RUNNER_ARGS[@]}" | grep -o '{.*}'
}

echo "# link: $RATE each way between $NS_A ($ADDR_A) and $NS_B ($ADDR_B)"
echo "# all-gather of a known payload, real shaped link (predictedSeconds = the link model for $RATE_BITS bit/s, no latency)"
for bytes in $SIZES; do
    RUNNER_ARGS=(mode=exchange "bytes=$bytes" "repeats=$REPEATS" "bandwidthBits=$RATE_BITS")
    mpi
done

if [ "$TRAIN" = 1 ]; then
    # A model large enough that one FP32 fragment takes ~0.1 s on the link: d = 128, 4 layers (~0.9 M parameters).
    common=(transport=mpi steps=60 innerSteps=20 fragments=2 wire=float32 embedding=128 layers=4 documents=60 timeout=120)
    for overlap in 0 5; do
        echo "# training over the shaped link, overlap=$overlap (per-sync exchange and wait seconds of rank 0's worker)"
        RUNNER_ARGS=("${common[@]}" "overlap=$overlap")
        mpi
    done
fi
