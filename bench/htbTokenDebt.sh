#!/bin/bash
# The kernel side of issue #23's stall, in plain tc: an HTB leaf charged at a tiny rate
# (8 kbit/s, what Sluice gives a zero guarantee) ends ~60 s in token debt (HTB keeps
# tokens as nanoseconds of transmission at the class's rate, floors them at -mbuffer =
# -60 s, and `tc class change` keeps them when the rate changes), so after its rate is
# raised it gets no guarantee until the debt has run off at 1 s per second: a sibling of
# higher priority borrows everything. Three runs, each 2 × iperf3 through one veth:
#   changed:  A at 8kbit while busy, then `tc class change` to 40mbit (A gets ~0 after);
#   fresh:    A created at 40mbit (the control: A gets its 40);
#   recreated: A at 8kbit while busy, then its filter, class and leaf deleted and made
#             again at 40mbit (what resets the debt).
#   flock /run/sluice-dev.lock bash bench/htbTokenDebt.sh [seconds-after-change]
set -u
usage() {
  echo "bench/htbTokenDebt: an HTB leaf's token debt after its rate is raised from 8kbit (issue #23), in plain tc"
  echo "  flock /run/sluice-dev.lock bash bench/htbTokenDebt.sh [seconds-after-change]   (root; namespaces and iperf3: under the lock)"
  echo "  seconds-after-change  how long A is watched after its class changes (6)"
  echo "  --help                this text"
}
for arg in "$@"; do case $arg in -h|--help) usage; exit 0 ;; esac; done
case "${1:-}" in
  ''|[0-9]|[0-9][0-9]|[0-9][0-9][0-9]) [ $# -le 1 ] || { echo "bench/htbTokenDebt: unknown option $2" >&2; usage >&2; exit 2; } ;;
  *) echo "bench/htbTokenDebt: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
AFTER=${1:-6}
A=sl-tda; B=sl-tdb; DEV=sl-tdv
cleanup() { ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; }
trap cleanup EXIT
setup() {
  cleanup
  ip netns add $A; ip netns add $B
  ip -n $A link add $DEV type veth peer name $DEV netns $B
  ip -n $A addr add 198.18.250.1/30 dev $DEV; ip -n $B addr add 198.18.250.2/30 dev $DEV
  ip -n $A link set $DEV up; ip -n $B link set $DEV up; ip -n $A link set lo up; ip -n $B link set lo up
  ip netns exec $A tc qdisc add dev $DEV root handle 1: htb default 0
  ip netns exec $A tc class add dev $DEV parent 1: classid 1:1 htb rate 100mbit ceil 100mbit burst 150k cburst 150k
  ip netns exec $A tc class add dev $DEV parent 1:1 classid 1:20 htb rate 10mbit ceil 100mbit burst 150k cburst 150k prio 3 quantum 73728
  ip netns exec $A tc qdisc add dev $DEV parent 1:20 handle 20: pfifo limit 1000
  ip netns exec $A tc filter add dev $DEV parent 1: prio 1 protocol ip u32 match ip dport 5202 0xffff classid 1:20
}
classA() { # rate
  ip netns exec $A tc class add dev $DEV parent 1:1 classid 1:10 htb rate $1 ceil 100mbit burst 150k cburst 150k prio 4 quantum 73728
  ip netns exec $A tc qdisc add dev $DEV parent 1:10 handle 10: pfifo limit 1000
  ip netns exec $A tc filter add dev $DEV parent 1: prio 1 handle 800::10 protocol ip u32 match ip dport 5201 0xffff classid 1:10
}
bytes() { ip netns exec $A tc -s class show dev $DEV classid "$1" | awk '/Sent/{print $2}'; }
tokens() { ip netns exec $A tc -s class show dev $DEV classid 1:10 | awk '/tokens:/{print $2}'; }
run() { # name, how A gets 40mbit
  setup
  if [ "$1" = fresh ]; then classA 40mbit; else classA 8kbit; fi
  ip netns exec $B iperf3 -s -p 5201 -1 >/dev/null 2>&1 & ip netns exec $B iperf3 -s -p 5202 -1 >/dev/null 2>&1 &
  sleep 0.5
  ip netns exec $A iperf3 -c 198.18.250.2 -p 5201 -P 2 -t $((AFTER + 4)) >/dev/null 2>&1 &
  ip netns exec $A iperf3 -c 198.18.250.2 -p 5202 -P 2 -t $((AFTER + 4)) >/dev/null 2>&1 &
  sleep 3
  case $1 in
    changed) ip netns exec $A tc class change dev $DEV parent 1:1 classid 1:10 htb rate 40mbit ceil 100mbit burst 150k cburst 150k prio 4 quantum 73728 ;;
    recreated)
      ip netns exec $A tc filter del dev $DEV parent 1: prio 1 handle 800::10 protocol ip u32
      ip netns exec $A tc class del dev $DEV classid 1:10
      classA 40mbit ;;
  esac
  echo "$1: tokens of A just after: $(tokens) (ticks of 64 ns)"
  local a0 b0 a1 b1
  for s in $(seq 1 "$AFTER"); do
    a0=$(bytes 1:10); b0=$(bytes 1:20); sleep 1; a1=$(bytes 1:10); b1=$(bytes 1:20)
    echo "  +${s} s: A $(( (a1 - a0) * 8 / 1000000 )) Mbit/s, B $(( (b1 - b0) * 8 / 1000000 )) Mbit/s, A's tokens $(tokens)"
  done
  wait
}
echo "kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in changed fresh recreated; do run $r; done
