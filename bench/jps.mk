# bench/jps.mk — `make bench-jps`: JPS planner benchmark (bench/jps_bench.c) ->
# bench/results/jps.json and the "## jps" section of docs/BENCHMARKS.md (other sections kept).
.PHONY: bench-jps
$(BUILD)/bench/jps_bench: bench/jps_bench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

bench-jps: $(BUILD)/bench/jps_bench
	@mkdir -p bench/results
	$(BUILD)/bench/jps_bench bench/results/jps.json $(BUILD)/jps-bench.md
	@[ -f docs/BENCHMARKS.md ] || printf '# edgeslice benchmarks\n\nEach section is written by its `make bench-NAME`.\n' > docs/BENCHMARKS.md
	@awk -v sec="$(BUILD)/jps-bench.md" ' \
		function emit() { print "## jps"; print ""; print "Written by `make bench-jps` (bench/jps_bench.c); raw data in bench/results/jps.json."; print ""; \
			while ((getline l < sec) > 0) print l; print ""; done = 1 } \
		/^## / { if (skip) skip = 0; if ($$0 == "## jps") { emit(); skip = 1; next } } \
		!skip { print } \
		END { if (!done) { print ""; emit() } }' docs/BENCHMARKS.md > docs/BENCHMARKS.md.tmp && mv docs/BENCHMARKS.md.tmp docs/BENCHMARKS.md
	@echo "bench-jps: bench/results/jps.json, docs/BENCHMARKS.md (## jps)"
