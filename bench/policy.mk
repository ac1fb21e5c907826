# bench/policy.mk — `make bench-policy`: policy decision cost at scale and the simulator's
# policy comparison, side by side in one run; writes bench/results/policy.json.
.PHONY: bench-policy
POLICY_BENCH := $(BUILD)/bench/policy_bench

$(POLICY_BENCH): bench/policy_bench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) -lm

bench-policy: $(POLICY_BENCH) $(BUILD)/edgeslice
	@mkdir -p bench/results
	@BUILD='$(BUILD_ABS)' bench/policy-run > bench/results/policy.json.tmp && \
		mv bench/results/policy.json.tmp bench/results/policy.json
	@echo "bench-policy: wrote bench/results/policy.json"
