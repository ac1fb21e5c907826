#!/usr/bin/env bash
# shaper.sh — `edgeslice shape` on real veth pairs in network namespaces: achieved rates per
# preset, two cgroups plus forwarded tasks at once, default class, exact restore, bad input.
#
#   netns T1 (vt1) ─veth─ (vs1)                      per-ingress-interface task
#   netns T2 (vt2) ─veth─ (vs2)  netns S ── vs ─veth─ vr ── netns R (receivers)
#                                 senders in cgroups a, b, c; HTB on vs (the uplink)
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
ES=$BUILD/edgeslice
TR=$BUILD/tests/es-traffic
for cg in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	[ "$(stat -fc %T "$cg" 2>/dev/null)" = cgroup2fs ] && CG2=$cg && break
done
[ -n "${CG2:-}" ] || { echo "skip: no cgroup2 mount"; exit 77; }
command -v ip >/dev/null && command -v tc >/dev/null && command -v nsenter >/dev/null ||
	{ echo "skip: needs ip, tc and nsenter"; exit 77; }
mkdir -p "$BUILD/tests"
if [ ! -x "$TR" ] || [ "$top/tests/helpers/es-traffic.c" -nt "$TR" ]; then
	cc -O2 -Wall -o "$TR" "$top/tests/helpers/es-traffic.c"
fi

id=$$
S=es-shp-$id-s R=es-shp-$id-r T1=es-shp-$id-t1 T2=es-shp-$id-t2
VS=esv$id VR=esr$id VS1=ess1$id VT1=est1$id VS2=ess2$id VT2=est2$id
CGD=$CG2/es-shp-$id
WORK=$(mktemp -d /tmp/es-shp-XXXXXX)
cleanup() {
	set +e
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	for n in $S $R $T1 $T2; do ip netns del "$n" 2>/dev/null; done
	for d in "$CGD"/*/ "$CGD"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*"; exit 1; }
inS() { nsenter --net=/run/netns/$S "$@"; }
inR() { nsenter --net=/run/netns/$R "$@"; }

# --- topology -----------------------------------------------------------------------------
for n in $S $R $T1 $T2; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add $VS netns $S type veth peer name $VR netns $R
ip link add $VS1 netns $S type veth peer name $VT1 netns $T1
ip link add $VS2 netns $S type veth peer name $VT2 netns $T2
ip -n $S addr add 10.201.0.1/30 dev $VS; ip -n $R addr add 10.201.0.2/30 dev $VR
ip -n $S addr add 10.202.1.1/30 dev $VS1; ip -n $T1 addr add 10.202.1.2/30 dev $VT1
ip -n $S addr add 10.202.2.1/30 dev $VS2; ip -n $T2 addr add 10.202.2.2/30 dev $VT2
for l in "$S $VS" "$R $VR" "$S $VS1" "$T1 $VT1" "$S $VS2" "$T2 $VT2"; do
	set -- $l; ip -n "$1" link set "$2" up
done
ip -n $R route add 10.202.0.0/16 via 10.201.0.1
ip -n $T1 route add default via 10.202.1.1
ip -n $T2 route add default via 10.202.2.1
inS sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
# Forwarded tasks build their GSO packets against their own veth: cap it there the way the
# shaper caps the uplink for local sockets (docs/SHAPER.md, "GSO").
ip -n $T1 link set $VT1 gso_max_size 3028; ip -n $T2 link set $VT2 gso_max_size 3028
gso0=$(ip -n $S -d link show $VS | grep -o 'gso_max_size [0-9]*')
mkdir -p "$CGD/a" "$CGD/b" "$CGD/c"

# A configured (not default) root qdisc the shaper must put back exactly.
inS tc qdisc add dev $VS root handle 1: tbf rate 1gbit burst 256k latency 20ms
snapshot() { inS tc -j qdisc show dev $VS; inS tc -j class show dev $VS; inS tc -j filter show dev $VS; }
orig=$(snapshot)

# --- bad input changes nothing -------------------------------------------------------------
expect_err() { # expected-exit pattern args...
	local want=$1 pat=$2 out rc
	shift 2
	set +e; out=$(inS "$ES" shape "$@" 2>&1 >/dev/null); rc=$?; set -e
	[ "$rc" = "$want" ] || fail "shape $*: exit $rc, want $want ($out)"
	[ "$(printf '%s\n' "$out" | grep -vc '^Try ')" = 1 ] || fail "shape $*: not a one-line error: $out"
	grep -q -- "$pat" <<<"$out" || fail "shape $*: '$out' lacks '$pat'"
}
check_bad_input() {
	local before; before=$(snapshot)
	expect_err 1 "no such network device" esnodev$id --preset 4g --cgroup "$CGD/a"
	expect_err 2 "out of range" $VS --rate 0mbit --cgroup "$CGD/a"
	expect_err 2 "out of range" $VS --rate 1000gbit --cgroup "$CGD/a"
	expect_err 2 "not a rate" $VS --rate fast --cgroup "$CGD/a"
	expect_err 2 "unknown preset" $VS --preset 5g --cgroup "$CGD/a"
	expect_err 2 "no such cgroup" $VS --preset 4g --cgroup "$CGD/nope"
	expect_err 2 "not a cgroup v2 directory" $VS --preset 4g --cgroup /tmp
	expect_err 2 "exceeds the parent rate" $VS --rate 200mbit --link-rate 100mbit --cgroup "$CGD/a"
	expect_err 2 "no such device" $VS --rate 1mbit --ingress esnodev$id
	expect_err 2 "not an IPv4 or IPv6" $VS --rate 1mbit --source 10.1.2
	expect_err 2 "exactly one of" $VS --show --clear
	expect_err 69 "edgesliced" $VS --rate 1mbit --task 7
	[ "$(snapshot)" = "$before" ] || fail "bad input changed the device"
}
check_bad_input
echo "ok: bad input rejected, device unchanged"

# --- helpers ----------------------------------------------------------------------------
# sample -> one line "classid monotonic_seconds bytes" per class, all from one netlink dump
sample() {
	inS "$ES" shape $VS --show --json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["classes"]:
    print("%s %.9f %d" % (c["classid"], c["sampled_monotonic_ns"] / 1e9, c["bytes"]))'
}
# of CLASSID SAMPLE -> "seconds bytes"
of() { awk -v c="$1" '$1 == c { print $2, $3 }' <<<"$2"; }
port=5000
start_recv() { # netns-of-receiver file -> port
	port=$((port + 1))
	rm -f "$WORK/ready.$port"
	inR "$TR" recv 10.201.0.2:$port 1 "$WORK/ready.$port" >"$WORK/recv.$port" &
	for _ in $(seq 100); do [ -e "$WORK/ready.$port" ] && break; sleep 0.02; done
}
send_cg() { # cgroup seconds
	sh -c 'echo $$ > "$1/cgroup.procs" && exec nsenter --net=/run/netns/$2 "$3" send 10.201.0.2:$4 $5' \
		sh "$CGD/$1" $S "$TR" $port "$2" >/dev/null &
}
send_ns() { # netns seconds
	nsenter --net=/run/netns/$1 "$TR" send 10.201.0.2:$port "$2" >/dev/null &
}
# check NAME CLASSID RATE_BYTES TOL_PERCENT "t1 b1" "t2 b2"
check_rate() {
	python3 - "$@" <<'PY' || exit 1
import sys
name, cls, rate, tol, s1, s2 = sys.argv[1:7]
(t1, b1), (t2, b2) = map(float, s1.split()), map(float, s2.split())
got = (b2 - b1) / (t2 - t1)
err = (got - float(rate)) / float(rate) * 100
print("%-8s %-6s set %8.4f Mbit/s  achieved L2 %8.4f Mbit/s  %+.2f %%" % (name, cls, float(rate) * 8e-6, got * 8e-6, err))
if abs(err) > float(tol):
    print("FAIL: %s: achieved rate off by %.2f %% (> %s %%)" % (name, err, tol))
    sys.exit(1)
PY
}
rate_of() { case $1 in 3g) echo 137500 ;; 4g) echo 731250 ;; wifi) echo 2360000 ;; *) echo "$1" ;; esac; }

# --- one cgroup at each preset --------------------------------------------------------------
first=1
for p in ${SHAPER_TEST_PRESETS-3g 4g wifi}; do
	extra=(); [ $first = 1 ] && extra=(--link-rate 100mbit); first=0
	out=$(inS "$ES" shape $VS --preset $p --cgroup "$CGD/a" "${extra[@]}")
	grep -q "class e5:10 at $p" <<<"$out" || fail "preset $p: unexpected output '$out'"
	start_recv; send_cg a 3.8
	sleep 1.0; s1=$(sample); sleep 2.4; s2=$(sample); wait
	tol=3; [ $p = 3g ] && tol=5
	check_rate "$p" e5:10 "$(rate_of $p)" $tol "$(of e5:10 "$s1")" "$(of e5:10 "$s2")"
done

# --- two cgroups, two forwarded tasks and unshaped traffic at once ----------------------------
inS "$ES" shape $VS --preset 4g --cgroup "$CGD/a" ${SHAPER_TEST_LINK:---link-rate 100mbit} >/dev/null
inS "$ES" shape $VS --preset 3g --cgroup "$CGD/b" >/dev/null
inS "$ES" shape $VS --rate 700kbit --ingress $VS1 >/dev/null
inS "$ES" shape $VS --rate 2.5mbit --source 10.202.2.2 >/dev/null
show=$(inS "$ES" shape $VS --show --json)
cls() { python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d["classes"]:
    if c.get(sys.argv[1]) == sys.argv[2]: print(c["classid"], c["rate_bytes_per_s"])' "$1" "$2" <<<"$show"; }
read -r ca ra < <(cls cgroup "$CGD/a"); read -r cb rb < <(cls cgroup "$CGD/b")
read -r ci ri < <(cls ingress $VS1); read -r cs rs < <(cls source 10.202.2.2)
[ "$ca" = e5:10 ] && [ "$ra" = 731250 ] || fail "cgroup a: class $ca rate $ra"
[ "$rb" = 137500 ] && [ "$ri" = 87500 ] && [ "$rs" = 312500 ] || fail "rates $rb $ri $rs"
[ "$(printf '%s\n' $ca $cb $ci $cs | sort -u | wc -l)" = 4 ] || fail "classes not distinct: $ca $cb $ci $cs"
[ "$(inS tc -j qdisc show dev $VS | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["kind"])')" = htb ] ||
	fail "root is not htb while shaping"
check_bad_input
echo "ok: bad input while shaping changed nothing"

start_recv; pa=$port; send_cg a 3.8
start_recv; pb=$port; send_cg b 3.8
start_recv; pi=$port; send_ns $T1 3.8
start_recv; ps=$port; send_ns $T2 3.8
start_recv; pc=$port; send_cg c 3.8
sleep 1.0; s1=$(sample); sleep 2.4; s2=$(sample)
wait
[ -n "${SHAPER_TEST_DEBUG:-}" ] && inS tc -s class show dev $VS && cat "$WORK"/recv.*
check_rate "cgroup-a" $ca $ra 3 "$(of $ca "$s1")" "$(of $ca "$s2")"
check_rate "cgroup-b" $cb $rb 5 "$(of $cb "$s1")" "$(of $cb "$s2")"
check_rate "ingress" $ci $ri 5 "$(of $ci "$s1")" "$(of $ci "$s2")"
check_rate "source" $cs $rs 3 "$(of $cs "$s1")" "$(of $cs "$s2")"
# cgroup c is not shaped: its bytes went to the default class (rate 100mbit minus the tasks,
# borrowing up to 100mbit), not to any task class.
cbytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$WORK/recv.$pc")
dbytes=$(of e5:2 "$(sample)" | cut -d' ' -f2)
[ "$cbytes" -gt 1000000 ] || fail "unshaped sender moved only $cbytes bytes"
[ "$dbytes" -ge "$cbytes" ] || fail "default class has $dbytes bytes < unshaped sender's $cbytes"
echo "ok: unshaped traffic ($cbytes bytes) in the default class e5:2 ($dbytes bytes)"

# --- remove one class, then restore exactly ---------------------------------------------------
inS "$ES" shape $VS --clear --cgroup "$CGD/b"
inS "$ES" shape $VS --show --json | grep -q "\"$CGD/b\"" && fail "class of b still listed"
inS "$ES" shape $VS --show --json | grep -q "\"$CGD/a\"" || fail "class of a lost"
set +e; inS "$ES" shape $VS --clear --cgroup "$CGD/b" 2>/dev/null; rc=$?; set -e
[ $rc = 1 ] || fail "clearing an unshaped cgroup: exit $rc"
inS "$ES" shape $VS --clear
[ "$(snapshot)" = "$orig" ] || { echo "before: $orig"; echo "after: $(snapshot)"; fail "--clear did not restore tbf 1:"; }
[ "$(ip -n $S -d link show $VS | grep -o 'gso_max_size [0-9]*')" = "$gso0" ] || fail "gso_max_size not restored"
inS "$ES" shape $VS --clear # idempotent
[ "$(snapshot)" = "$orig" ] || fail "second --clear changed the device"
echo "ok: --clear restored the configured root qdisc exactly"

# --- default root (noqueue) comes back; classful roots are refused ----------------------------
r0=$(inR tc -j qdisc show dev $VR)
inR "$ES" shape $VR --rate 10mbit
inR "$ES" shape $VR --show | grep -q "parent rate 10Mbit" || fail "parent rate not shown"
inR "$ES" shape $VR --clear
[ "$(inR tc -j qdisc show dev $VR)" = "$r0" ] || fail "default root not restored on $VR"
# Separate processes racing on a fresh device: one tree, four distinct classes.
mkdir -p "$CGD/d1" "$CGD/d2" "$CGD/d3" "$CGD/d4"
for i in 1 2 3 4; do inR "$ES" shape $VR --rate ${i}mbit --cgroup "$CGD/d$i" >/dev/null & done
wait
n=$(inR "$ES" shape $VR --show --json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin)["classes"] if c["kind"] == "task"]
print(len({x["classid"] for x in c}), len({x.get("cgroup") for x in c}), sorted(x["rate_bytes_per_s"] for x in c))')
[ "$n" = "4 4 [125000, 250000, 375000, 500000]" ] || { inR "$ES" shape $VR --show; fail "concurrent shaping: $n"; }
# A crash between installing the root and attaching the classifier leaves a tree without a
# filter: the next command repairs it, and --clear still removes it.
inR tc filter del dev $VR parent e5: prio 1
inR "$ES" shape $VR --rate 1mbit --cgroup "$CGD/d1" >/dev/null
inR tc filter show dev $VR | grep -q "edgeslice_shaper" || fail "classifier not repaired"
inR "$ES" shape $VR --clear
[ "$(inR tc -j qdisc show dev $VR)" = "$r0" ] || fail "repaired tree not cleared to the default root"
echo "ok: concurrent processes get distinct classes; a tree missing its filter is repaired"
inR tc qdisc add dev $VR root handle 7: htb default 1
inR tc class add dev $VR parent 7: classid 7:1 htb rate 10mbit
r1=$(inR tc -j qdisc show dev $VR; inR tc -j class show dev $VR)
set +e; out=$(inR "$ES" shape $VR --rate 10mbit 2>&1); rc=$?; set -e
[ $rc = 1 ] && grep -q "classful root" <<<"$out" || fail "classful root not refused: $rc $out"
[ "$(inR tc -j qdisc show dev $VR; inR tc -j class show dev $VR)" = "$r1" ] || fail "refused root was changed"
echo "ok: default root restored, classful root refused untouched"
echo "PASS"
