#!/usr/bin/env bash
# Run as `unshare -n scripts/in-netns.sh CMD...`: inside the fresh network namespace,
# bring up lo and a veth pair v0 (10.213.0.1/24) / v1 (10.213.0.2/24) with a default
# route via v1, then exec CMD. Browsers and Go peers reach each other over v0's address
# and nothing leaves the namespace (ARCHITECTURE.md, "Networking on these machines").
set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.213.0.1/24 dev v0
ip addr add 10.213.0.2/24 dev v1
ip link set v0 up
ip link set v1 up
ip route add default via 10.213.0.2 dev v0
exec "$@"
