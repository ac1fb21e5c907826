# bench/shape.mk — `make bench-shape`: configured vs achieved upload rate (L2 and TCP goodput)
# for the 3g/4g/wifi presets, edgeslice's shaper against the same HTB built with tc(8).
.PHONY: bench-shape
$(BUILD)/tests/es-traffic: tests/helpers/es-traffic.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -o $@ $<

bench-shape: $(BUILD)/edgeslice $(BUILD)/tests/es-traffic
	@BUILD='$(BUILD_ABS)' python3 bench/shape.py bench/results/shape.json
