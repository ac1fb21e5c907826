# bench/metrics.mk — `make bench-metrics` (also run by `make bench-daemon`): one /metrics
# scrape with 1,000 running tasks (latency, bytes; text and OpenMetrics) beside the `status`
# request over the same tasks, and the daemon's CPU with no scraper vs 1 scrape/s. Writes
# bench/results/metrics.json.
.PHONY: bench-metrics
bench-metrics: $(BINS)
	@BUILD='$(BUILD_ABS)' bench/metrics-run bench/results/metrics.json

bench-daemon: bench-metrics
