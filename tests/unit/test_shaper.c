/* test_shaper.c — the shaper's pure parts: presets and rate parsing, HTB/fq_codel sizing
 * from 1 Mbit/s to 1 Gbit/s, class id allocation, default-class rate, GSO cap, matches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

#include "shaper.h"
#include "util.h"

static void test_presets(void **state)
{
	uint64_t v;

	assert_int_equal(shaper_preset("3g", &v), 0);
	assert_int_equal(v, 137500); /* 1.1 Mbit/s in bytes/s */
	assert_int_equal(shaper_preset("4g", &v), 0);
	assert_int_equal(v, 731250);
	assert_int_equal(shaper_preset("WiFi", &v), 0);
	assert_int_equal(v, 2360000);
	assert_int_equal(shaper_preset("5g", &v), -ENOENT);
	assert_int_equal(shaper_preset(NULL, &v), -ENOENT);
}

static void test_parse_rate(void **state)
{
	uint64_t v = 42;

	assert_int_equal(shaper_parse_rate("4g", &v), 0);
	assert_int_equal(v, 731250);
	assert_int_equal(shaper_parse_rate("5.85mbit", &v), 0);
	assert_int_equal(v, 731250);
	assert_int_equal(shaper_parse_rate("700kbit", &v), 0);
	assert_int_equal(v, 87500);
	assert_int_equal(shaper_parse_rate("1gbit", &v), 0);
	assert_int_equal(v, 125000000);
	assert_int_equal(shaper_parse_rate("8kbit", &v), 0);
	assert_int_equal(v, SHAPER_RATE_MIN);
	assert_int_equal(shaper_parse_rate("100gbit", &v), 0);
	assert_int_equal(v, SHAPER_RATE_MAX);
	v = 42;
	assert_int_equal(shaper_parse_rate("0mbit", &v), -ERANGE);
	assert_int_equal(shaper_parse_rate("7kbit", &v), -ERANGE);
	assert_int_equal(shaper_parse_rate("101gbit", &v), -ERANGE);
	assert_int_equal(shaper_parse_rate("1000gbit", &v), -ERANGE);
	assert_int_equal(shaper_parse_rate("fast", &v), -EINVAL);
	assert_int_equal(shaper_parse_rate("5", &v), -EINVAL);
	assert_int_equal(shaper_parse_rate("-5mbit", &v), -EINVAL);
	assert_int_equal(shaper_parse_rate(NULL, &v), -EINVAL);
	assert_int_equal(v, 42); /* untouched on failure */
}

static void test_format_rate(void **state)
{
	char b[32];

	shaper_format_rate(731250, b, sizeof(b));
	assert_string_equal(b, "5.85Mbit");
	shaper_format_rate(87500, b, sizeof(b));
	assert_string_equal(b, "700Kbit");
	shaper_format_rate(125000000, b, sizeof(b));
	assert_string_equal(b, "1Gbit");
}

static void test_sizing(void **state)
{
	struct shaper_sizing z;

	/* 1 Mbit/s: 2 ms = 250 B + 3 frames of 1514 B; quantum = 12500 (rate/10). */
	assert_int_equal(shaper_size_class(125000, 1500, &z), 0);
	assert_int_equal(z.burst, 250 + 3 * 1514);
	assert_int_equal(z.cburst, z.burst);
	assert_int_equal(z.quantum, 12500);
	/* One frame takes 12.1 ms at 1 Mbit/s: target 1.5 frames, interval 20 targets. */
	assert_int_equal(z.target_us, 18168);
	assert_int_equal(z.interval_us, 20 * 18168);
	assert_int_equal(z.fifo_limit, 32);

	/* 1.1 Mbit/s (3g) */
	assert_int_equal(shaper_size_class(137500, 1500, &z), 0);
	assert_int_equal(z.burst, 275 + 3 * 1514);
	assert_int_equal(z.quantum, 13750);

	/* 18.88 Mbit/s (wifi): CoDel defaults apply again. */
	assert_int_equal(shaper_size_class(2360000, 1500, &z), 0);
	assert_int_equal(z.burst, 4720 + 3 * 1514);
	assert_int_equal(z.target_us, 5000);
	assert_int_equal(z.interval_us, 100000);

	/* 1 Gbit/s: burst 2 ms (250 kB, above a 64 kB GSO packet); quantum capped at 200000. */
	assert_int_equal(shaper_size_class(125000000, 1500, &z), 0);
	assert_int_equal(z.burst, 250000 + 3 * 1514);
	assert_int_equal(z.quantum, 200000);
	assert_int_equal(z.fifo_limit, 8256); /* 100 ms of 1514 B frames */

	/* 100 kbit/s: quantum never below one frame. */
	assert_int_equal(shaper_size_class(12500, 1500, &z), 0);
	assert_int_equal(z.quantum, 1514);

	/* Jumbo frames scale the per-frame terms. */
	assert_int_equal(shaper_size_class(125000, 9000, &z), 0);
	assert_int_equal(z.burst, 250 + 3 * 9014);

	/* Monotone in the rate across 1 Mbit/s .. 1 Gbit/s; quantum within [frame, 200000]. */
	uint32_t prev = 0;
	for (uint64_t r = 125000; r <= 125000000; r += r / 7) {
		assert_int_equal(shaper_size_class(r, 1500, &z), 0);
		assert_true(z.burst >= prev);
		assert_true(z.burst >= 3 * 1514);
		assert_true(z.quantum >= 1514 && z.quantum <= 200000);
		assert_true(z.target_us >= 5000 && z.interval_us >= 100000);
		prev = z.burst;
	}

	assert_int_equal(shaper_size_class(0, 1500, &z), -EINVAL);
	assert_int_equal(shaper_size_class(125000, 10, &z), -EINVAL);
}

static void test_alloc_minor(void **state)
{
	uint32_t used[] = {1, 2, 0x10, 0x11, 0x13}, m = 0;
	uint32_t *all;

	assert_int_equal(shaper_alloc_minor(NULL, 0, &m), 0);
	assert_int_equal(m, SHAPER_MINOR_FIRST);
	assert_int_equal(shaper_alloc_minor(used, ELEMENTSOF(used), &m), 0);
	assert_int_equal(m, 0x12); /* lowest gap, reused after a --clear */

	size_t n = SHAPER_MINOR_LAST - SHAPER_MINOR_FIRST + 1;
	all = calloc(n, sizeof(*all));
	assert_non_null(all);
	for (size_t i = 0; i < n; i++)
		all[i] = SHAPER_MINOR_FIRST + (uint32_t)i;
	m = 7;
	assert_int_equal(shaper_alloc_minor(all, n, &m), -ENOSPC);
	assert_int_equal(m, 7);
	all[n - 1] = 1;
	assert_int_equal(shaper_alloc_minor(all, n, &m), 0);
	assert_int_equal(m, SHAPER_MINOR_LAST);
	free(all);
	assert_int_equal(SHAPER_CLASSID(0x10), 0xe50010u);
}

static void test_default_rate(void **state)
{
	assert_int_equal(shaper_default_rate(12500000, 0), 12500000);
	assert_int_equal(shaper_default_rate(12500000, 731250 + 137500), 12500000 - 868750);
	/* Tasks take everything: 1 % stays guaranteed for unclassified traffic. */
	assert_int_equal(shaper_default_rate(12500000, 12500000), 125000);
	assert_int_equal(shaper_default_rate(12500000, 99999999), 125000);
	assert_int_equal(shaper_default_rate(50000, 50000), SHAPER_RATE_MIN);
}

static void test_gso_cap(void **state)
{
	assert_int_equal(shaper_gso_cap(0, 1500, 65536), 65536); /* no tasks: device's own */
	assert_int_equal(shaper_gso_cap(137500, 1500, 65536), 3028);
	assert_int_equal(shaper_gso_cap(2360000, 1500, 65536), 3028);
	assert_int_equal(shaper_gso_cap(12500000, 1500, 65536), 12500); /* 100 Mbit/s: 1 ms */
	assert_int_equal(shaper_gso_cap(125000000, 1500, 65536), 65536);
	assert_int_equal(shaper_gso_cap(137500, 1500, 2000), 2000); /* never raised */
	assert_int_equal(shaper_gso_cap(137500, 1500, 0), 0);
}

static void test_match_source(void **state)
{
	struct shaper_match m;
	uint8_t v4[4] = {10, 202, 2, 2};

	assert_int_equal(shaper_match_source("10.202.2.2", &m), 0);
	assert_int_equal(m.kind, SHAPER_MATCH_SOURCE);
	assert_int_equal(m.family, AF_INET);
	assert_memory_equal(m.addr, v4, 4);
	assert_int_equal(shaper_match_source("fd00::2", &m), 0);
	assert_int_equal(m.family, AF_INET6);
	assert_int_equal(m.addr[0], 0xfd);
	assert_int_equal(m.addr[15], 2);
	assert_int_equal(shaper_match_source("10.1.2", &m), -EINVAL);
	assert_int_equal(shaper_match_source("", &m), -EINVAL);
	assert_int_equal(shaper_match_source(NULL, &m), -EINVAL);
}

static void test_cgroup_id_rejects(void **state)
{
	char dir[] = "/tmp/es-shaper-XXXXXX", file[64];
	uint64_t id = 7;
	int level;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(shaper_cgroup_id(dir, &id), -EMEDIUMTYPE); /* tmpfs/ext4, not cgroup2 */
	assert_int_equal(shaper_cgroup_id(file, &id), -ENOTDIR);
	assert_int_equal(shaper_cgroup_id("/nonexistent/es", &id), -ENOENT);
	assert_int_equal(shaper_cgroup_id("", &id), -EINVAL);
	assert_int_equal(id, 7);
	level = 7;
	assert_int_equal(shaper_cgroup_level_at(AT_FDCWD, dir, &level), -EMEDIUMTYPE);
	assert_int_equal(shaper_cgroup_level_at(AT_FDCWD, file, &level), -ENOTDIR);
	assert_int_equal(shaper_cgroup_level_at(AT_FDCWD, "/nonexistent/es", &level), -ENOENT);
	assert_int_equal(level, 7);
	unlink(file);
	rmdir(dir);
}

/* Levels count from the root of the cgroup2 mount: whichever mount this machine has (pure
 * v2 at /sys/fs/cgroup, hybrid at .../unified), its root is 0 and its children are 1. */
static void test_cgroup_level(void **state)
{
	const char *mnts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	int level = -1, found = 0;

	for (size_t i = 0; i < ELEMENTSOF(mnts); i++) {
		DIR *d = NULL;
		struct dirent *de;
		char sub[512];

		if (shaper_cgroup_level_at(AT_FDCWD, mnts[i], &level) < 0)
			continue;
		assert_int_equal(level, 0);
		found++;
		d = opendir(mnts[i]);
		assert_non_null(d);
		while ((de = readdir(d)))
			if (de->d_type == DT_DIR && de->d_name[0] != '.')
				break;
		if (!de) {
			closedir(d);
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", mnts[i], de->d_name);
		assert_int_equal(shaper_cgroup_level_at(AT_FDCWD, sub, &level), 0);
		assert_int_equal(level, 1);
		/* relative to a directory fd, as the daemon asks */
		int fd = open(mnts[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(shaper_cgroup_level_at(fd, de->d_name, &level), 0);
		assert_int_equal(level, 1);
		assert_int_equal(shaper_cgroup_level_at(fd, ".", &level), 0);
		assert_int_equal(level, 0);
		close(fd);
		closedir(d);
	}
	if (!found)
		fail_msg("no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified");
}

static void test_open_rejects(void **state)
{
	struct shaper *s = NULL;

	assert_int_equal(shaper_open("", 0, &s), -EINVAL);
	assert_int_equal(shaper_open("a/b", 0, &s), -EINVAL);
	assert_int_equal(shaper_open("0123456789abcdefX", 0, &s), -EINVAL);
	assert_int_equal(shaper_open("lo", 1, &s), -ERANGE);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_presets),	      cmocka_unit_test(test_parse_rate),
	    cmocka_unit_test(test_format_rate),	      cmocka_unit_test(test_sizing),
	    cmocka_unit_test(test_alloc_minor),	      cmocka_unit_test(test_default_rate),
	    cmocka_unit_test(test_gso_cap),	      cmocka_unit_test(test_match_source),
	    cmocka_unit_test(test_cgroup_id_rejects), cmocka_unit_test(test_cgroup_level),
	    cmocka_unit_test(test_open_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
