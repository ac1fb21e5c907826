# bench/distill.mk — `make bench-distill`: the tuning-record distiller on synthesized logs against
# its baselines in one run (bench/distill.sh); results in bench/results/distill.json.
.PHONY: bench-distill
bench-distill: $(BUILD)/edgeslice
	@bench/distill.sh $(BUILD)
