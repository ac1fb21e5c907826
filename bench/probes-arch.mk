# probes-arch.mk — bench-probes-arch: the same eBPF probe benchmark (bench/probes_bench.c: the
# three scheduler programs under a pipe ping-pong) built for x86 and for arm64 and run in the
# VM test bed of each, under TCG, in one run, beside the host's native figure.
# Results: bench/results/probes-arch.json; table in docs/BENCHMARKS.md ("eBPF on arm64").
.PHONY: bench-probes-arch
bench-probes-arch: $(BUILD)/bench/probes-bench
	@$(MAKE) --no-print-directory ARCH=arm64 BUILD=$(BUILD)/arm64 deps >/dev/null
	@$(MAKE) --no-print-directory ARCH=arm64 BUILD=$(BUILD)/arm64 $(BUILD)/arm64/bench/probes-bench
	@mkdir -p bench/results
	@BUILD='$(BUILD_ABS)' bench/probes-arch-run bench/results/probes-arch.json
