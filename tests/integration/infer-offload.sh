#!/usr/bin/env bash
# infer-offload.sh — edgeslice-infer end to end over real TCP: offloaded jobs give the same
# logits as local ones, the batch order holds, a server killed mid-batch or a dead port ends
# the client with a one-line error (exit 1), never a hang; timing runs report p50 and p99.
set -u
B=${BUILD:?}/edgeslice-infer
[ -x "$B" ] || { echo "edgeslice-infer not built"; exit 77; }
tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
die() { echo "FAIL: $*"; exit 1; }

start_server() { # $1 = extra args; sets $srv and $port
	rm -f "$tmp/srv.out" # the child truncates it only after fork: never read a stale port
	"$B" alexnet --input-size 64 --serve 0 "$@" >"$tmp/srv.out" 2>"$tmp/srv.err" &
	srv=$!
	for _ in $(seq 100); do
		port=$(awk '/^listening on port/ {print $4}' "$tmp/srv.out" 2>/dev/null)
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	die "server did not start: $(cat "$tmp/srv.err")"
}
json_get() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

# reference: local only
"$B" alexnet --input-size 64 --jobs 1 --json >"$tmp/local.json" || die "local run failed"
ref=$(json_get "$tmp/local.json" "d['results'][0]['output0']")

# 1. offload at three cuts and cloud only: same logits, in order
start_server
"$B" alexnet --input-size 64 --jobs 3 --until pool5 --offload "127.0.0.1:$port" --json >"$tmp/a.json" ||
	die "offload at pool5 failed"
"$B" alexnet --input-size 64 --jobs 2 --until input --offload "127.0.0.1:$port" --json >"$tmp/b.json" ||
	die "cloud-only offload failed"
"$B" alexnet --input-size 64 --jobs 2 --until conv2 --offload "127.0.0.1:$port" --json >"$tmp/c.json" ||
	die "offload at conv2 failed"
for f in a b c; do
	python3 - "$tmp/$f.json" "$ref" <<'PY' || die "results of $f differ from local"
import json, sys
d = json.load(open(sys.argv[1])); ref = float(sys.argv[2])
res = d["results"]
assert all(abs(r["output0"] - ref) <= 1e-4 * (1 + abs(ref)) for r in res), res
assert all(r["upload_bytes"] > 0 and r["crc32c"] != 0 for r in res), res
done = [r["done_ms"] for r in res]
assert done == sorted(done), done
PY
done
kill "$srv"; wait "$srv" 2>/dev/null; srv=

# 2. the server dies mid-batch: a clear error well before any timeout
start_server
"$B" alexnet --input-size 64 --jobs 3000 --until conv2 --offload "127.0.0.1:$port" --timeout 20 \
	>"$tmp/d.out" 2>"$tmp/d.err" &
cli=$!
sleep 1
kill -9 "$srv"; wait "$srv" 2>/dev/null; srv=
t0=$(date +%s)
wait "$cli"; rc=$?
[ "$rc" = 1 ] || die "client exit $rc after the server died (want 1)"
[ $(( $(date +%s) - t0 )) -lt 10 ] || die "client took too long to notice the dead server"
grep -Eq '^edgeslice-infer: offload: job [0-9]+ of 3000: (server closed the connection|Connection reset by peer|Broken pipe)$' "$tmp/d.err" ||
	die "unclear error: $(cat "$tmp/d.err")"
[ "$(wc -l <"$tmp/d.err")" = 1 ] || die "more than one error line"

# 3. nobody listening
"$B" alexnet --input-size 64 --jobs 1 --until conv2 --offload "127.0.0.1:$port" 2>"$tmp/e.err"
[ $? = 1 ] || die "connect to a dead port did not fail with 1"
grep -q 'cannot connect to 127.0.0.1' "$tmp/e.err" || die "unclear connect error: $(cat "$tmp/e.err")"

# 4. a measured profile plans
"$B" alexnet --input-size 64 --iterations 2 --profile "$tmp/prof.json" >/dev/null || die "--profile failed"
"${BUILD}/edgeslice" plan --profile "$tmp/prof.json" --jobs 5 --bandwidth 4g --json >"$tmp/plan.json" ||
	die "plan on the measured profile failed"
json_get "$tmp/plan.json" "d['source']" | grep -q '^measured' || die "profile source not measured"

# 5. a timed task keeps computing for its duration
"$B" alexnet --input-size 64 --duration 0.5 --json >"$tmp/dur.json" || die "--duration failed"
python3 -c "import json; d=json.load(open('$tmp/dur.json')); assert d['passes'] > 1 and 0.5 <= d['seconds'] < 2, d" ||
	die "--duration result wrong: $(cat "$tmp/dur.json")"

# 5b. a timing run reports the median and the 99th percentile of its passes (bench-realtime's
# per-inference latency); the p99 of 5 passes is the slowest, never below the median
"$B" mobilenet-v2 --input-size 32 --iterations 5 --json >"$tmp/t.json" || die "timing run failed"
python3 -c "import json; d=json.load(open('$tmp/t.json')); assert d['iterations'] == 5 and 0 < d['median_ms'] <= d['p99_ms'], d" ||
	die "timing run result wrong: $(cat "$tmp/t.json")"

# 6. usage errors exit 2 and name the field
"$B" alexnet --jobs 2 --until conv2 2>"$tmp/f.err"; [ $? = 2 ] || die "--offload missing: want exit 2"
grep -q -- '--offload: required' "$tmp/f.err" || die "unclear usage error"
"$B" alexnet --until nosuchlayer --offload 127.0.0.1:1 2>"$tmp/g.err"; [ $? = 2 ] || die "bad layer: want 2"
grep -q -- '--until: unknown layer "nosuchlayer"' "$tmp/g.err" || die "unclear --until error"
echo "infer-offload: ok"
