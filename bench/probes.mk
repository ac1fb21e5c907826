# probes.mk — bench-probes: eBPF cost per event, per-task tick cost, sampler CPU (one run).
# Results: bench/results/probes.json; table in docs/BENCHMARKS.md ("## Probes").
.PHONY: bench-probes
$(BUILD)/bench/probes-bench: bench/probes_bench.c $(LIB) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

bench-probes: $(BUILD)/bench/probes-bench
	@mkdir -p bench/results
	$(BUILD)/bench/probes-bench bench/results/probes.json
