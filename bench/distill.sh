#!/bin/sh
# bench/distill.sh BUILD — benchmark of `edgeslice distill` on synthesized logs (docs/DISTILL.md):
# the distiller against the cloud's best record alone, random sampling with the same budget and
# measuring every first-step survivor, all in one run; writes bench/results/distill.json.
set -eu
build=${1:-build}
es="$build/edgeslice"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tasks=24 records=250
truthm="$es distill-truth"
out=bench/results/distill.json

# gaps REPORT TRUTH -> JSON summary of every strategy against the true per-task best.
gaps() {
	jq -n --slurpfile r "$1" --slurpfile t "$2" '
	def summ(f): [ $r[0].per_task[] as $p
		| ($t[0].tasks[] | select(.workload_key == $p.workload_key) | .true_best) as $best
		| ((($p | f) // 1e30) / $best - 1) ] as $g
		| { tasks_within_2pct: ([$g[] | select(. <= 0.02)] | length),
		    max_gap_pct: (([$g[]] | max) * 100), mean_gap_pct: (([$g[]] | add / length) * 100) };
	$r[0] as $R | ($R.kept.first_step) as $S |
	{ records: $R.records, failed: $R.failed, tasks: $R.tasks, first_step_survivors: $S,
	  distiller: ({ measured: $R.measured, fraction_of_survivors: ($R.measured / $S),
	                sampled: $R.kept.sampled, predicted: $R.kept.predicted,
	                precision: $R.classifier.precision, recall: $R.classifier.recall }
	              + summ(.edge_best)),
	  random_same_budget: ({ measured: $R.measured } + summ(.random_best)),
	  cloud_best_only: ({ measured: $R.tasks } + summ(.cloud_best_edge)),
	  all_survivors: ({ measured: $S } + summ(.all_best)) }'
}

runs=""
for seed in 1 2 3 4 5 6 7 8; do
	d="$work/s$seed"
	"$es" distill --synthesize "$d" --tasks $tasks --records $records --seed $seed -q
	"$es" distill "$d/cloud.json" --out "$d/best.json" --measurer "$truthm" --seed $seed \
		--compare --report "$d/rep.json" -q >/dev/null
	# Variants: the paper's strict "measure the predicted set only", and the survey rule
	# applied to the whole model's latency instead of per task.
	"$es" distill "$d/cloud.json" --out "$d/b2.json" --measurer "$truthm" --seed $seed \
		--predicted-only --report "$d/strict.json" -q >/dev/null
	"$es" distill "$d/cloud.json" --out "$d/b3.json" --measurer "$truthm" --seed $seed \
		--survey model --report "$d/model.json" -q >/dev/null
	g=$(gaps "$d/rep.json" "$d/truth.json")
	strict=$(gaps "$d/strict.json" "$d/truth.json" | jq '.distiller | {measured, fraction_of_survivors, tasks_within_2pct, max_gap_pct, mean_gap_pct}')
	model=$(gaps "$d/model.json" "$d/truth.json" | jq '.distiller | {measured, fraction_of_survivors, tasks_within_2pct, max_gap_pct, mean_gap_pct}')
	run=$(echo "$g" | jq --argjson s $seed --argjson strict "$strict" --argjson model "$model" \
		'{seed: $s} + . + {predicted_only: $strict, survey_model_scope: $model}')
	runs="$runs${runs:+,}$run"
	echo "$run" | jq -r '"seed \(.seed): distiller \(.distiller.measured)/\(.first_step_survivors) measured (\(.distiller.fraction_of_survivors*100|floor)%), \(.distiller.tasks_within_2pct)/\(.tasks) tasks within 2% (max gap \(.distiller.max_gap_pct*10|round/10)%); random same budget \(.random_same_budget.tasks_within_2pct)/\(.tasks); cloud best only \(.cloud_best_only.tasks_within_2pct)/\(.tasks)"'
done

# The builtin measurer on this CPU: real loop nests, real time saved (small log: every survivor
# is measured too for the comparison).
d="$work/real"
"$es" distill --synthesize "$d" --tasks 6 --records 150 --seed 9 -q
"$es" distill "$d/cloud.json" --out "$d/best.json" --measurer builtin --cores 0 --compare \
	--report "$d/rep.json" -q >/dev/null
real=$(jq '{records, tasks, first_step_survivors: .kept.first_step, measured,
	measure_seconds: .saved.measure_seconds, all_survivors_seconds: .saved.all_survivors_seconds,
	seconds_saved: .saved.seconds,
	distiller_total_best: .total_edge_best, all_survivors_total_best: .baselines.total_all_best,
	random_total_best: .baselines.total_random_best, cloud_best_total: .baselines.total_cloud_best_edge}' "$d/rep.json")
echo "$real" | jq -r '"builtin measurer: \(.measured)/\(.first_step_survivors) measured in \(.measure_seconds*1000|round) ms vs \(.all_survivors_seconds*1000|round) ms for every survivor"'

mkdir -p bench/results
jq -n --argjson runs "[$runs]" --argjson real "$real" --arg date "$(date -u +%FT%TZ)" \
	--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
	--argjson tasks $tasks --argjson records $records '
	{ bench: "distill", date: $date, cpu: $cpu,
	  log: { tasks: $tasks, records_per_task: $records, failed_fraction: 0.03, model: "edgeslice-synthetic-v1" },
	  params: { threshold: 0.4, alpha: 0.15, beta: 1.0, batch: 12, phi: -0.25, survey: "task" },
	  criterion: "per-task best within 2 % of the true best, at most half of the first-step survivors measured",
	  runs: $runs,
	  summary: { distiller_tasks_within_2pct: ([$runs[].distiller.tasks_within_2pct] | add),
	             random_tasks_within_2pct: ([$runs[].random_same_budget.tasks_within_2pct] | add),
	             cloud_best_tasks_within_2pct: ([$runs[].cloud_best_only.tasks_within_2pct] | add),
	             tasks: ([$runs[].tasks] | add),
	             max_fraction_measured: ([$runs[].distiller.fraction_of_survivors] | max) },
	  builtin_measurer: $real }' > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
