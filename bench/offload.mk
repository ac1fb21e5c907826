# bench/offload.mk — `make bench-offload`: the tc-shaped offloading experiment (JPS paper,
# Table 1) on this machine -> bench/results/offload.json and "## offload" in BENCHMARKS.md.
# Needs root and the shaper module; OFFLOAD_MODELS / OFFLOAD_JOBS override the defaults.
.PHONY: bench-offload
OFFLOAD_MODELS ?= alexnet mobilenet-v2
OFFLOAD_JOBS ?= 10
bench-offload: $(BUILD)/edgeslice $(BUILD)/edgeslice-infer
	@mkdir -p bench/results
	BUILD='$(BUILD_ABS)' bench/offload.sh "$(OFFLOAD_JOBS)" $(OFFLOAD_MODELS)
