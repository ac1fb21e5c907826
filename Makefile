# edgeslice — build, test, benchmark and install.
# Sources are discovered by directory so modules can be added without editing this file.

PREFIX ?= /usr/local
DESTDIR ?=
# Debian 12 keeps units in /lib/systemd/system (the package sets it); elsewhere under PREFIX.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
# The target architecture as the kernel spells it (x86, arm64). ARCH=arm64 on an x86 host
# cross-builds every binary and BPF object into build/arm64 (`make ARCH=arm64 deps` first).
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
ifeq ($(ARCH),$(HOST_ARCH))
BUILD ?= build
else
BUILD ?= build/$(ARCH)
endif
SANITIZE ?= 0
# The build folder as an absolute path for scripts, as text: $(abspath) would split a checkout
# path with a space in it. Quote it in recipes.
BUILD_ABS = $(if $(filter /%,$(BUILD)),$(BUILD),$(CURDIR)/$(BUILD))

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
EXTRA_LIBS :=
ifneq ($(ARCH),$(HOST_ARCH))
# Debian's cross toolchain and multiarch -dev packages (.ci/packages-arm64). libxgboost-dev is
# not co-installable across architectures, so its arm64 files are unpacked into a private
# sysroot instead (tests/cross-deps).
TRIPLET-arm64 := aarch64-linux-gnu
TRIPLET-x86 := x86_64-linux-gnu
TRIPLET := $(TRIPLET-$(ARCH))
ifeq ($(TRIPLET),)
$(error ARCH=$(ARCH): cross-building supports arm64 and x86)
endif
CROSS_COMPILE ?= $(TRIPLET)-
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
XSYSROOT = $(BUILD)/sysroot/usr/lib/$(TRIPLET)
EXTRA_LIBS = -L$(XSYSROOT) -Wl,-rpath-link,$(XSYSROOT)
endif

PKGS := libbpf libsystemd libnl-3.0 libnl-route-3.0 json-c libcgroup libcurl sqlite3 libmicrohttpd
# Recursive (=), not simple (:=): on a fresh machine pkg-config and the -dev packages appear
# only after `deps` ran, so the flags must be resolved when a recipe needs them. The targets
# that install (check, demo) also build through a sub-make, which resolves them again.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# libcurl and libmicrohttpd are compiled against (headers) but not linked: fleet mode and the
# metrics endpoint dlopen them (controller/fleet/curl-dl.c, controller/metrics/mhd-dl.c), so
# a node without them never maps them nor the TLS stacks under them.
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(filter-out libcurl libmicrohttpd,$(PKGS)) 2>/dev/null) $(EXTRA_LIBS) -lxgboost -lopenblas -lm -lpthread

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
# OPT and EXTRA_CFLAGS are the knobs; CFLAGS itself is always the full set.
OPT ?= -O2 -g
EXTRA_CFLAGS ?=
SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
override CFLAGS := $(OPT) -std=gnu11 $(WARN) -D_GNU_SOURCE -fno-strict-aliasing -MMD -MP $(SAN_FLAGS) $(EXTRA_CFLAGS)
override CPPFLAGS = -Ipolicy -Iprobes -I$(BUILD)/bpf $(PKG_CFLAGS)
override LDFLAGS := $(SAN_FLAGS) $(EXTRA_LDFLAGS)

V ?= 0
ifeq ($(V),0)
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2);
else
Q :=
msg =
endif


# --- sources --------------------------------------------------------------
# controller/ holds one folder per subsystem (map and dependency order: docs/DESIGN.md).
# Library code is every controller/*/*.c except the CLI folder and the program entry points.
POLICY_SRC := $(wildcard policy/*.c)
PROBES_SRC := $(wildcard probes/*.c)
CTL_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard controller/*/*.[ch]))))
override CPPFLAGS += $(addprefix -I,$(CTL_DIRS))
CLI_DIR := controller/cli
CMD_SRC := $(filter-out $(CLI_DIR)/edgeslice.c,$(wildcard $(CLI_DIR)/*.c))
MAIN_SRC := $(CLI_DIR)/edgeslice.c controller/daemon/edgesliced.c
# Extra programs: controller/<folder>/main_NAME.c -> $(BUILD)/NAME (e.g. edgeslice-infer).
EXTRA_MAIN := $(wildcard controller/*/main_*.c)
EXTRA_BIN := $(patsubst main_%.c,$(BUILD)/%,$(notdir $(EXTRA_MAIN)))
CTL_SRC := $(filter-out $(MAIN_SRC) $(EXTRA_MAIN) $(wildcard $(CLI_DIR)/*.c),$(wildcard controller/*/*.c))
LIB_SRC := $(POLICY_SRC) $(PROBES_SRC) $(CTL_SRC)
BPF_SRC := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRC))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
CMD_OBJ := $(call obj,$(CMD_SRC))
LIB := $(BUILD)/libedgeslice.a
# The CLI's objects as an archive too, for unit tests of a command (test_dagsim).
CLI_LIB := $(BUILD)/libedgeslice-cli.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

BINS := $(BUILD)/edgeslice $(BUILD)/edgesliced $(EXTRA_BIN)

.PHONY: vmlinux-headers cross-arm64
.PHONY: print-libs print-includes all deps check check-stages check-fresh unit unit-asan integration vm fuzz bench demo install clean format format-check lint help man deb
all: $(BINS)

help:
	@echo "make            build $(BINS)"
	@echo "make deps       install the Debian packages in .ci/packages (root)"
	@echo "make check      deps + build + unit (plain and ASan/UBSan) + fuzz + integration + deb + VM suites"
	@echo "make check-fresh  make demo + make check as the first commands in a fresh Debian 12 root"
	@echo "make demo       the main job: the node service placing the paper's workload"
	@echo "make bench      every benchmark; results in bench/results/*.json"
	@echo "make install    install binaries, units, man pages and default config (PREFIX, DESTDIR)"
	@echo "make man        the man pages into $(BUILD)/man (help2man + docs/DAEMON.md)"
	@echo "make deb        the Debian packages, built in a fresh Debian 12 root, into build/deb"
	@echo "                (DEB_REBUILD=1: also the next version, for the VM suite's upgrade)"
	@echo "make lint       layout (tests/check-layout) and formatting (clang-format) checks"

deps:
	@.ci/install-deps
ifneq ($(ARCH),$(HOST_ARCH))
	@tests/cross-deps $(ARCH) '$(BUILD_ABS)/sysroot'
endif

# Every binary and BPF object for arm64 with Debian's cross toolchain (a stage of `make check`).
cross-arm64:
	@ok=1; $(MAKE) --no-print-directory ARCH=arm64 BUILD=$(BUILD)/arm64 deps && \
	$(MAKE) --no-print-directory ARCH=arm64 BUILD=$(BUILD)/arm64 all && \
	file $(BUILD)/arm64/edgeslice* | sed 's/, BuildID.*//' && \
	file $(BUILD)/arm64/bpf/*.bpf.o | grep -c 'eBPF' | grep -qx $(words $(BPF_SRC)) || ok=0; \
	[ -n "$$TEST_SUMMARY" ] && echo "cross-arm64 $$ok $$((1 - ok)) 0" >>"$$TEST_SUMMARY"; \
	echo "cross-arm64: $$ok passed, $$((1 - ok)) failed"; [ $$ok = 1 ]

# --- BPF: clang -> bpftool gen object -> bpftool gen skeleton ----------------
# vmlinux.h comes from Debian's kernel packages, one per architecture, committed (regenerate
# with `make vmlinux-headers`): the build depends on neither the running kernel's BTF (a
# Raspberry Pi OS kernel has none) nor the build machine. CO-RE adapts at load.
VMLINUX_H := bpf/vmlinux/$(ARCH)/vmlinux.h

vmlinux-headers:
	@bpf/vmlinux/gen

$(BUILD)/bpf/%.tmp.o: bpf/%.bpf.c $(VMLINUX_H) $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	$(call msg,BPF,$<)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf/vmlinux/$(ARCH) -Ibpf -c $< -o $@

$(BUILD)/bpf/%.bpf.o: $(BUILD)/bpf/%.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $<

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# --- C ----------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

$(CLI_LIB): $(CMD_OBJ)
	@mkdir -p $(@D)
	$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/edgeslice: $(call obj,$(CLI_DIR)/edgeslice.c) $(CMD_OBJ) $(LIB)
	$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(PKG_LIBS)

$(BUILD)/edgesliced: $(call obj,controller/daemon/edgesliced.c) $(LIB)
	$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(PKG_LIBS)

define extra_bin
$(BUILD)/$(patsubst main_%.c,%,$(notdir $(1))): $(call obj,$(1)) $(LIB)
	$$(call msg,LD,$$@)$$(CC) $$(LDFLAGS) -o $$@ $$< $$(LIB) $$(PKG_LIBS)
endef
$(foreach m,$(EXTRA_MAIN),$(eval $(call extra_bin,$(m))))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CLI_LIB) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $< $(CLI_LIB) $(LIB) $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# --- tests ------------------------------------------------------------------
# Integration helpers linked with the library; tests/integration/* build them on demand.
# The eBPF/cgroup probe test (tests/integration/probes-sched runs it; the VM suites too).
$(BUILD)/tests/probes-sched: tests/integration/probes_sched.c $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/tests/etcd-itest: $(call obj,tests/helpers/etcd-itest.c) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

unit: $(UNIT_BIN) $(BINS)
	@tests/run-unit $(UNIT_BIN)

unit-asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=1 OPT="-O1 -g" unit

fuzz:
	@tests/fuzz/run $(BUILD)

integration: $(BINS)
	@BUILD='$(BUILD_ABS)' tests/run-suite integration tests/integration

vm: $(BINS)
	@BUILD='$(BUILD_ABS)' tests/run-suite vm tests/vm/suites

# Every stage runs even if an earlier one failed; the last line totals them. deps first, then
# a sub-make: the sub-make reads this file again, after the packages exist.
check: deps
	@$(MAKE) --no-print-directory check-stages

check-stages:
	@mkdir -p $(BUILD); rm -f $(BUILD)/test-summary; \
	export TEST_SUMMARY='$(BUILD_ABS)/test-summary'; rc=0; \
	$(MAKE) --no-print-directory all || exit 1; \
	for s in lint unit unit-asan fuzz integration deb vm cross-arm64; do \
		echo "== $$s"; $(MAKE) --no-print-directory DEB_REBUILD=1 $$s || rc=1; done; \
	tests/summary $(BUILD)/test-summary || rc=1; \
	exit $$rc

# The quick start as a newcomer meets it: a fresh Debian 12 root (mmdebstrap), a clone of
# HEAD, `make demo` then `make check` as the first commands. What CI runs (.ci/run).
check-fresh:
	@tests/fresh/run

print-libs:
	@echo $(PKG_LIBS)

# The include flags tools outside make need (tests/fuzz/run).
print-includes:
	@echo -Ipolicy -Iprobes $(addprefix -I,$(CTL_DIRS))

# --- benchmarks and demo ----------------------------------------------------
BENCHES := $(patsubst bench/%.mk,bench-%,$(wildcard bench/*.mk))
-include $(wildcard bench/*.mk)
bench: $(BENCHES)

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD='$(BUILD_ABS)' tests/demo

# --- man pages and packages ---------------------------------------------------
# Generated from the binaries' --help (help2man) and docs/DAEMON.md (docs/man/gen); a native
# build only, since the generator runs the binaries.
MAN_OUT := $(BUILD)/man
man: $(MAN_OUT)/.stamp
$(MAN_OUT)/.stamp: $(BINS) docs/DAEMON.md docs/man/gen docs/man/md2roff
	@rm -rf $(MAN_OUT)
	$(call msg,MAN,$(MAN_OUT))docs/man/gen '$(BUILD_ABS)' '$(BUILD_ABS)/man'
	@touch $@

# debian/ packages built in a fresh Debian 12 root (tests/deb/build): what the build needs is
# exactly the package's Build-Depends. Output in build/deb/. A stage of check (before vm, whose
# suite deb installs them), with DEB_REBUILD=1: also the next version, to upgrade to.
DEB_REBUILD ?= 0
deb:
	@ok=1; tests/deb/build $(if $(filter 1,$(DEB_REBUILD)),--rebuild) || ok=0; \
	[ -n "$$TEST_SUMMARY" ] && echo "deb $$ok $$((1 - ok)) 0" >>"$$TEST_SUMMARY"; \
	echo "deb: $$ok passed, $$((1 - ok)) failed"; [ $$ok = 1 ]

# --- install ----------------------------------------------------------------
install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/edgeslice $(EXTRA_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BUILD)/edgesliced $(DESTDIR)$(PREFIX)/sbin/
	@if ls units/*.service >/dev/null 2>&1; then \
		install -d $(DESTDIR)$(SYSTEMDUNITDIR) && \
		for u in units/*.service units/*.socket; do \
			sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@BINDIR@|$(PREFIX)/bin|g' $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u); \
		done; fi
	install -d $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	install -m 0644 units/sysusers.d/edgeslice.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/
	install -m 0644 units/tmpfiles.d/edgeslice.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN_OUT)/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN_OUT)/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN_OUT)/*.8 $(DESTDIR)$(MANDIR)/man8/
	@install -d $(DESTDIR)/etc/edgeslice; for f in $(wildcard units/*.conf units/*.json); do \
		[ -e $(DESTDIR)/etc/edgeslice/$$(basename $$f) ] || install -m 0644 $$f $(DESTDIR)/etc/edgeslice/; done

# Every C source, formatted with the repository's .clang-format (clang-format 14, Debian's).
FORMAT_SRC := $(wildcard */*.c */*.h controller/*/*.c controller/*/*.h tests/*/*.c)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run -Werror $(FORMAT_SRC) && echo "format-check: $(words $(FORMAT_SRC)) files ok"

# Layout (tests/check-layout: file sizes, include direction) and formatting; a stage of check.
lint:
	@ok=1; $(MAKE) --no-print-directory format-check && tests/check-layout || ok=0; \
	[ -n "$$TEST_SUMMARY" ] && echo "lint $$ok $$((1 - ok)) 0" >>"$$TEST_SUMMARY"; \
	echo "lint: $$ok passed, $$((1 - ok)) failed"; [ $$ok = 1 ]

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
# Objects reached only through pattern rules (unit tests, BPF objects) are intermediate
# to make; keep them so a rebuild recompiles only what changed. (.PRECIOUS, not a bare
# .SECONDARY:, which would make every object intermediate and skip new ones.)
.PRECIOUS: $(BUILD)/obj/%.o $(BUILD)/bpf/%.tmp.o $(BUILD)/bpf/%.bpf.o
