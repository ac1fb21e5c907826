#!/usr/bin/env bash
# offload.sh — runs `edgeslice experiment offload` for every model x preset x plan and
# writes bench/results/offload.json plus the "## offload" section of docs/BENCHMARKS.md.
set -euo pipefail
jobs=$1; shift
ES=${BUILD:?}/edgeslice
raw=$(mktemp)
trap 'rm -f "$raw" "$raw.err"' EXIT
for m in "$@"; do
	for p in 3g 4g wifi; do
		for plan in lo co po jps; do
			echo "offload: $m $p $plan ($jobs jobs)" >&2
			rc=0
			"$ES" experiment offload --model "$m" --jobs "$jobs" --preset "$p" --plan "$plan" --json \
				>>"$raw" 2>"$raw.err" || rc=$?
			if [ $rc = 69 ]; then # no root or no shaper: nothing to measure here
				echo "bench-offload: skipped: $(cat "$raw.err")"
				rm -f "$raw.err"
				exit 0
			fi
			[ $rc = 0 ] || { cat "$raw.err" >&2; rm -f "$raw.err"; exit 1; }
		done
	done
done
python3 -c 'import json,sys; json.dump({"jobs": int(sys.argv[2]), "note": "measured_ms = last upload arrival (or local compute end), the two-stage makespan; end_to_end_ms adds the server compute on this same machine", "runs": [json.loads(l) for l in open(sys.argv[1]) if l.strip()]}, open("bench/results/offload.json", "w"), indent=1)' "$raw" "$jobs"
mkdir -p "$BUILD"
bench/offload-report.py bench/results/offload.json "$BUILD/offload-bench.md"
[ -f docs/BENCHMARKS.md ] || printf '# edgeslice benchmarks\n\nEach section is written by its `make bench-NAME`.\n' > docs/BENCHMARKS.md
awk -v sec="$BUILD/offload-bench.md" '
	function emit() { print "## offload"; print ""; while ((getline l < sec) > 0) print l; print ""; done = 1 }
	/^## / { if (skip) skip = 0; if ($0 == "## offload") { emit(); skip = 1; next } }
	!skip { print }
	END { if (!done) { print ""; emit() } }' docs/BENCHMARKS.md > docs/BENCHMARKS.md.tmp && mv docs/BENCHMARKS.md.tmp docs/BENCHMARKS.md
echo "bench-offload: bench/results/offload.json, docs/BENCHMARKS.md (## offload)"
