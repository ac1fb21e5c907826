# bench/fleet.mk — `make bench-fleet`: fleet mode against a real 3-member etcd cluster on
# loopback with 100 simulated nodes publishing usage: submit-to-start latency and placements/s,
# and the placer's RD-DRF decision alone at 1,000 queues x 10,000 devices (bench/policy_bench).
# Writes bench/results/fleet.json; table in docs/BENCHMARKS.md ("## Fleet").
.PHONY: bench-fleet
FLEET_BENCH := $(BUILD)/bench/fleet_bench

$(FLEET_BENCH): bench/fleet_bench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

bench-fleet: $(FLEET_BENCH) $(BUILD)/bench/policy_bench
	@mkdir -p bench/results
	@BUILD='$(BUILD_ABS)' bench/fleet-run > bench/results/fleet.json.tmp && \
		mv bench/results/fleet.json.tmp bench/results/fleet.json
	@echo "bench-fleet: wrote bench/results/fleet.json"
