# Sourced, not run: two network namespaces joined by one veth pair shaped with tc tbf (a real slow link on one machine),
# and mpirun across them without sshd. Used by build/netns-link.sh (all-gather timings, training runs of the MPI test
# runner) and build/netns-overlap.sh (the overlap benchmark's point on a real link). Needs root, iproute2 (ip, tc) and
# Open MPI. Traffic goes only over the veth pair, whose addresses exist only inside the two namespaces; both namespaces
# (and so the pair) are deleted when the sourcing script exits.
#
#   source build/netns-lib.sh
#   netns_require dotnet             # root, ip, tc, mpirun and the tools named
#   netns_up 20mbit                  # namespaces, veth pair, tbf on both ends, the rsh agent; a trap removes them on exit
#   netns_mpirun -x SOME_VAR=1 dotnet app.dll args...   # 2 ranks, rank 0 in namespace A, rank 1 in namespace B
#
# How the ranks get into the namespaces: mpirun itself runs inside namespace A (rank 0 is local to it); for the other
# "host" it calls its rsh agent, a small generated script that maps the address to namespace B and runs the command
# through `ip netns exec` instead of ssh. Open MPI's out-of-band channel and its TCP transport are both restricted to
# the veth subnet, so everything between the ranks crosses the shaped link.
# netem is not in every kernel (not in ours): the link has bandwidth but no added latency; tbf queues up to 400 ms.

netns_require() {
    [ "$(id -u)" = 0 ] || { echo "netns: needs root (network namespaces, tc)" >&2; return 1; }
    local tool
    for tool in ip tc mpirun "$@"; do command -v "$tool" >/dev/null || { echo "netns: $tool not found" >&2; return 1; }; done
}

# netns_up RATE: creates the link (RATE is tc's syntax, per direction, e.g. 100mbit) and sets NETNS_A, NETNS_B,
# NETNS_ADDR_A, NETNS_ADDR_B, NETNS_SUBNET, NETNS_AGENT. Names carry the PID so that two runs cannot collide;
# interface names stay under 15 characters.
netns_up() {
    local rate="$1"
    NETNS_A="diloco-$$-a"; NETNS_B="diloco-$$-b"
    NETNS_VETH_A="dlc$$a"; NETNS_VETH_B="dlc$$b"
    NETNS_SUBNET="10.213.7.0/30"; NETNS_ADDR_A="10.213.7.1"; NETNS_ADDR_B="10.213.7.2"
    NETNS_WORK="$(mktemp -d)"
    trap netns_down EXIT
    trap 'exit 130' INT TERM   # runs the EXIT trap

    ip netns add "$NETNS_A"
    ip netns add "$NETNS_B"
    ip link add "$NETNS_VETH_A" type veth peer name "$NETNS_VETH_B"
    ip link set "$NETNS_VETH_A" netns "$NETNS_A"
    ip link set "$NETNS_VETH_B" netns "$NETNS_B"
    ip -n "$NETNS_A" addr add "$NETNS_ADDR_A/30" dev "$NETNS_VETH_A"
    ip -n "$NETNS_B" addr add "$NETNS_ADDR_B/30" dev "$NETNS_VETH_B"
    ip -n "$NETNS_A" link set lo up
    ip -n "$NETNS_B" link set lo up
    ip -n "$NETNS_A" link set "$NETNS_VETH_A" up
    ip -n "$NETNS_B" link set "$NETNS_VETH_B" up
    # Each end shapes what it sends, so both directions are limited.
    ip netns exec "$NETNS_A" tc qdisc add dev "$NETNS_VETH_A" root tbf rate "$rate" burst 32kbit latency 400ms
    ip netns exec "$NETNS_B" tc qdisc add dev "$NETNS_VETH_B" root tbf rate "$rate" burst 32kbit latency 400ms

    NETNS_AGENT="$NETNS_WORK/agent.sh"
    cat > "$NETNS_AGENT" <<EOF
#!/bin/sh
# mpirun's "remote shell": \$1 is the host, the rest the command line to run there.
host="\$1"; shift
case "\$host" in
  $NETNS_ADDR_A) ns="$NETNS_A" ;;
  $NETNS_ADDR_B) ns="$NETNS_B" ;;
  *) echo "agent.sh: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
    chmod +x "$NETNS_AGENT"
    echo "# link: $rate each way between $NETNS_A ($NETNS_ADDR_A) and $NETNS_B ($NETNS_ADDR_B)"
}

netns_down() {
    # Deleting a namespace deletes its end of the veth pair, and so the pair.
    [ -n "${NETNS_A:-}" ] && ip netns del "$NETNS_A" 2>/dev/null
    [ -n "${NETNS_B:-}" ] && ip netns del "$NETNS_B" 2>/dev/null
    [ -n "${NETNS_WORK:-}" ] && rm -rf "$NETNS_WORK"
    return 0
}

# netns_mpirun [mpirun options...] COMMAND...: 2 ranks, one per namespace, over the shaped link only.
netns_mpirun() {
    ip netns exec "$NETNS_A" mpirun --allow-run-as-root -np 2 --host "$NETNS_ADDR_A:1,$NETNS_ADDR_B:1" \
        --mca plm_rsh_agent "$NETNS_AGENT" \
        --mca btl tcp,self --mca btl_tcp_if_include "$NETNS_SUBNET" --mca oob_tcp_if_include "$NETNS_SUBNET" \
        -x OMP_WAIT_POLICY=PASSIVE -x DOTNET_CLI_TELEMETRY_OPTOUT=1 -x DOTNET_NOLOGO=1 "$@"
}
