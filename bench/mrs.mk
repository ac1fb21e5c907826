# bench/mrs.mk — MRS vs PASS-like and Ekya-like on the lifelogging example at three arrival
# rates, one run, same arrivals per rate; writes bench/results/mrs.json (see docs/BENCHMARKS.md).
MRS_RATES ?= 0.2 0.5 1.0
MRS_COUNT ?= 300

.PHONY: bench-mrs
bench-mrs: $(BUILD)/edgeslice
	@mkdir -p bench/results
	@{ printf '{"bench":"mrs","workload":"docs/examples/lifelogging.json","count":$(MRS_COUNT),"seed":1,"runs":['; \
	  sep=; for r in $(MRS_RATES); do \
	    printf '%s{"rate":%s,"result":' "$$sep" "$$r"; \
	    $(BUILD)/edgeslice sim --dag docs/examples/lifelogging.json --rate $$r --count $(MRS_COUNT) --seed 1 --json | tr -d '\n' || exit 1; \
	    printf '}'; sep=,; \
	  done; printf ']}\n'; } > bench/results/mrs.json.tmp && mv bench/results/mrs.json.tmp bench/results/mrs.json
	@python3 -c 'import json,sys; d=json.load(open("bench/results/mrs.json")); \
	[print("rate %-4s %-5s mean %.3fs p95 %.3fs acc %.4f obj %.3f retrain %d" % (r["rate"], p["policy"], p["mean_completion_s"], p["p95_completion_s"], p["mean_accuracy"], p["mean_objective"], p["retrainings"])) for r in d["runs"] for p in r["result"]["policies"]]'
