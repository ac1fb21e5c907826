#!/usr/bin/env bash
# offload.sh — runs `edgeslice experiment offload` for every model x preset x plan and
# writes bench/results/offload.json plus the "## offload" section of docs/BENCHMARKS.md.
set -euo pipefail
jobs=$1; shift
ES=${BUILD:?}/edgeslice
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for m in "$@"; do
	for p in 3g 4g wifi; do
		for plan in lo co po jps; do
			echo "offload: $m $p $plan ($jobs jobs)" >&2
			"$ES" experiment offload --model "$m" --jobs "$jobs" --preset "$p" --plan "$plan" --json >>"$raw"
		done
	done
done
python3 - "$raw" "$jobs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
jobs = int(sys.argv[2])
paper = {"alexnet": (22.06, 42.11, 73.43), "mobilenet-v2": (56.73, 78.83, 84.69),
         "googlenet": (52.83, 71.93, 72.17), "resnet-18": (0.73, 28.22, 58.52)}
presets = ["3g", "4g", "wifi"]
get = {(r["model"], r["preset"], r["plan"]): r for r in rows}
out = {"jobs": jobs, "note": "measured = last upload end (or local compute end), the planner's two-stage makespan; end_to_end_ms adds the server's compute on this same machine", "runs": rows}
json.dump(out, open("bench/results/offload.json", "w"), indent=1)
models = sorted({r["model"] for r in rows}, key=lambda m: list(paper).index(m) if m in paper else 99)
md = ["Written by `make bench-offload` (bench/offload.sh, `edgeslice experiment offload`); raw data in bench/results/offload.json.",
      "",
      f"{jobs} identical jobs per run, veth pair between two network namespaces, upload shaped by the shaper (HTB class on the device address), server on this same machine, compute profiled at the start of each run (1 BLAS thread). Measured latency reduction vs the measured local-only run, % (planner's predicted reduction) [paper's JPS, Table 1]:",
      "",
      "| model | plan | 3G 1.1 Mbit/s | 4G 5.85 Mbit/s | Wi-Fi 18.88 Mbit/s |", "|---|---|---|---|---|"]
for m in models:
    for plan in ["co", "po", "jps"]:
        cells = []
        for i, p in enumerate(presets):
            lo, r = get.get((m, p, "lo")), get.get((m, p, plan))
            if not lo or not r:
                cells.append("n/a"); continue
            red = 100 * (lo["measured_ms"] - r["measured_ms"]) / lo["measured_ms"]
            pred = 100 * (r["local_only_predicted_ms"] - r["predicted_ms"]) / r["local_only_predicted_ms"]
            cell = f"{red:.1f} ({pred:.1f})"
            if plan == "jps" and m in paper:
                cell += f" [{paper[m][i]:.2f}]"
            cells.append(cell)
        md.append(f"| {m} | {plan} | " + " | ".join(cells) + " |")
md += ["", "Prediction error of the planner, (measured - predicted) / predicted, %:", "",
       "| model | plan | 3G | 4G | Wi-Fi |", "|---|---|---|---|---|"]
for m in models:
    for plan in ["lo", "co", "po", "jps"]:
        cells = [f"{get[(m, p, plan)]['prediction_error_pct']:+.1f}" if (m, p, plan) in get else "n/a" for p in presets]
        md.append(f"| {m} | {plan} | " + " | ".join(cells) + " |")
open("build/offload-bench.md", "w").write("\n".join(md) + "\n")
PY
[ -f docs/BENCHMARKS.md ] || printf '# edgeslice benchmarks\n\nEach section is written by its `make bench-NAME`.\n' > docs/BENCHMARKS.md
awk -v sec=build/offload-bench.md '
	function emit() { print "## offload"; print ""; while ((getline l < sec) > 0) print l; print ""; done = 1 }
	/^## / { if (skip) skip = 0; if ($0 == "## offload") { emit(); skip = 1; next } }
	!skip { print }
	END { if (!done) { print ""; emit() } }' docs/BENCHMARKS.md > docs/BENCHMARKS.md.tmp && mv docs/BENCHMARKS.md.tmp docs/BENCHMARKS.md
echo "bench-offload: bench/results/offload.json, docs/BENCHMARKS.md (## offload)"
