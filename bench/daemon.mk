# bench/daemon.mk — `make bench-daemon`: edgesliced's own cost (CPU, RSS with 100 running
# tasks at 10 Hz vs 1 Hz vs idle), exit-to-next-exec latency (vs a plain sequential loop),
# status latency with 1,000 tasks (vs 10), status p99 during a burst of 5,000 pipelined submits
# from 4 clients (vs status alone; ES_BENCH_ONLY=burst runs just that section), persistence
# (5,000 submits from 4 clients with status timed meanwhile, the same with 20,000 queued,
# 3,000 cancels, status with 10,000 tasks), each row twice in the same run: group commit (the
# default) and one commit per request (EDGESLICED_GROUP_COMMIT=0, the "before"); the
# state.json baseline only with BENCH_STATE_JSON=1 (else its figures from an earlier run are
# kept). Writes bench/results/daemon.json. BENCH_ONLY=persistence runs the persistence and
# burst rows and keeps the others from the last run.
# The baseline: edgesliced as of the last commit that persisted to state.json, built from
# `git archive` in build/ (nothing checked out).
BASELINE_STATE_JSON_REV ?= 20deb17
BASELINE_EDGESLICED := $(BUILD_ABS)/baseline-state-json/edgesliced
$(BASELINE_EDGESLICED):
	rm -rf '$(BUILD_ABS)/baseline-src' && mkdir -p '$(BUILD_ABS)/baseline-src'
	git archive $(BASELINE_STATE_JSON_REV) | tar -x -C '$(BUILD_ABS)/baseline-src'
	$(MAKE) -C '$(BUILD_ABS)/baseline-src' BUILD='$(BUILD_ABS)/baseline-state-json' '$@'

.PHONY: bench-daemon
bench-daemon: $(BINS) $(if $(filter 1,$(BENCH_STATE_JSON)),$(BASELINE_EDGESLICED))
	@BUILD='$(BUILD_ABS)' BASELINE_EDGESLICED='$(BASELINE_EDGESLICED)' bench/daemon-run bench/results/daemon.json
