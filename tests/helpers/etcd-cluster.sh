# etcd-cluster.sh — sourced by integration tests: a 3-member etcd cluster on loopback with
# kernel-chosen free ports and data under $tmp (same recipe as tests/integration/etcd).
# Needs: $ETCD (the etcd binary), $tmp (a scratch directory). Sets: etcd_pids[], etcd_eps[],
# etcd_all (comma-separated client URLs). etcd_cluster_stop kills every member.

etcd_pids=()
etcd_eps=()
etcd_all=""

etcd_gone() {
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

etcd_cluster_start() {
	local ports cluster="" i c p
	mapfile -t ports < <(python3 - <<'PY'
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
)
	[ ${#ports[@]} -eq 6 ] || return 1
	for i in 0 1 2; do cluster+="${cluster:+,}m$i=http://127.0.0.1:${ports[$((3 + i))]}"; done
	for i in 0 1 2; do
		c=${ports[$i]} p=${ports[$((3 + i))]}
		"$ETCD" --name "m$i" --data-dir "$tmp/m$i" \
			--listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
			--listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
			--initial-cluster "$cluster" --initial-cluster-state new \
			--initial-cluster-token "es-fleet-$$" --logger zap --log-outputs stderr \
			>"$tmp/m$i.log" 2>&1 &
		etcd_pids+=($!)
		disown $!
		etcd_eps+=("http://127.0.0.1:$c")
	done
	etcd_all=$(IFS=,; echo "${etcd_eps[*]}")
	# Up when every member answers a range through the JSON gateway.
	for _ in $(seq 200); do
		local ok=0
		for ep in "${etcd_eps[@]}"; do
			curl -s -m 1 -X POST -d '{"key":"AA=="}' "$ep/v3/kv/range" | grep -q '"header"' && ok=$((ok + 1))
		done
		[ $ok -eq 3 ] && return 0
		sleep 0.1
	done
	return 1
}

etcd_cluster_stop() {
	local p
	for p in "${etcd_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${etcd_pids[@]}"; do etcd_gone "$p"; done
}
