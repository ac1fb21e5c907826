/* fuzz_daemon_files.c — libFuzzer target for the files edgesliced reads at start: the
 * configuration, the model catalog and state.json. The first byte picks the parser; an
 * accepted state must survive format -> parse unchanged (restart loses nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dconf.h"
#include "dstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const char *err)
{
	/* Every rejection is one non-empty line naming what is wrong. */
	if (!err[0] || strchr(err, '\n'))
		abort();
}

static void fuzz_state(const char *text)
{
	struct dtask *t = NULL, *t2 = NULL;
	size_t n = 0, n2 = 0;
	uint64_t next = 0, next2 = 0;
	char err[256] = "", *out = NULL;

	if (dstate_parse(text, &t, &n, &next, err, sizeof(err)) < 0) {
		check_error(err);
		return;
	}
	if (dstate_format(t, n, next, &out) < 0)
		abort();
	if (dstate_parse(out, &t2, &n2, &next2, err, sizeof(err)) < 0)
		abort();
	if (n2 != n || next2 != next)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (t[i].id != t2[i].id || t[i].state != t2[i].state || t[i].argc != t2[i].argc ||
		    strcmp(t[i].queue, t2[i].queue) != 0 || t[i].mem != t2[i].mem ||
		    t[i].dev != t2[i].dev)
			abort();
		for (size_t a = 0; a < t[i].argc; a++)
			if (strcmp(t[i].argv[a], t2[i].argv[a]) != 0)
				abort();
	}
	free(out);
	dstate_free(t, n);
	dstate_free(t2, n2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	char *text;

	if (size < 1)
		return 0;
	text = strndup((const char *)data + 1, size - 1);
	if (!text)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		struct dconf *c = malloc(sizeof(*c));
		if (!c)
			break;
		dconf_init(c);
		if (dconf_parse(text, c, err, sizeof(err)) < 0)
			check_error(err);
		else if (c->n_devices > DCONF_MAX_DEVICES || c->measure_ms == 0)
			abort();
		free(c);
		break;
	}
	case 1: {
		struct dconf_model *m = NULL;
		size_t n = 0;
		if (dconf_parse_models(text, &m, &n, err, sizeof(err)) < 0)
			check_error(err);
		else
			for (size_t i = 0; i < n; i++)
				if (!m[i].name[0] || !(m[i].cpu > 0))
					abort();
		free(m);
		break;
	}
	default:
		fuzz_state(text);
	}
	free(text);
	return 0;
}
