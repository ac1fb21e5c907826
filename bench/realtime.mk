# bench/realtime.mk — `make bench-realtime`: RD-DRF on the node's real-time availability (#20).
# The same batch of real edgeslice-infer tasks through edgesliced beside a foreign pod, under
# rddrf and drf in one VM run, and the simulator's paper workload with background load per
# device, every policy side by side; writes bench/results/realtime.json. REALTIME_ONLY=sim
# re-runs the simulator part and keeps the daemon part of the last run.
.PHONY: bench-realtime
bench-realtime: $(BINS)
	@mkdir -p bench/results
	@BUILD='$(BUILD_ABS)' bench/realtime-run bench/results/realtime.json > bench/results/realtime.json.tmp && \
		mv bench/results/realtime.json.tmp bench/results/realtime.json
	@echo "bench-realtime: wrote bench/results/realtime.json"
