# bench/daemon.mk — `make bench-daemon`: edgesliced's own cost (CPU, RSS with 100 running
# tasks at 10 Hz vs 1 Hz vs idle), exit-to-next-exec latency (vs a plain sequential loop),
# status latency with 1,000 tasks (vs 10), status p99 during a burst of 5,000 pipelined submits
# from 4 clients (vs status alone; ES_BENCH_ONLY=burst runs just that section). Writes
# bench/results/daemon.json.
.PHONY: bench-daemon
bench-daemon: $(BINS)
	@BUILD='$(BUILD_ABS)' bench/daemon-run bench/results/daemon.json
