# bench/cgroup.mk — the cgroup library's test driver (not shipped) and its benchmark:
# create + start + teardown of one task cgroup, on the host and in the VM test bed.

CG_ENFORCE := $(BUILD)/tests/cg_enforce

$(CG_ENFORCE): tests/vm/cg_enforce.c $(LIB) controller/cgroup/cg.h controller/basic/util.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

.PHONY: bench-cgroup cg-enforce
cg-enforce: $(CG_ENFORCE)

# The VM runs the same binary from the build tree (the guest sees the host's root).
bench-cgroup: $(CG_ENFORCE) $(BINS)
	@BUILD='$(BUILD_ABS)' bench/cgroup-bench $(abspath $(CG_ENFORCE)) bench/results/cgroup.json
