/* cmd_distill_truth.c — `edgeslice distill-truth`: the synthetic edge cost model as a measurer
 * for `edgeslice distill --measurer` (the benchmark's ground truth, docs/DISTILL.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline */
#endif
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "distill.h"
#include "tvmlog.h"
#include "util.h"

static const char *const truth_help =
    "Usage: edgeslice distill-truth [--family N]\n"
    "\n"
    "A measurer for `edgeslice distill --measurer` that answers with the synthetic edge cost\n"
    "model instead of running anything (docs/DISTILL.md, \"Synthetic model\"). Reads requests\n"
    "{\"id\": N, \"record\": {...}} one per line on stdin, writes {\"id\": N, \"costs\": [s],\n"
    "\"error_no\": 0} per line on stdout; a record the model cannot cost gets error_no 1.\n";

static int cmd_distill_truth(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(truth_help, stdout);
		return ES_EXIT_OK;
	}
	uint64_t family = 0;
	if (argc == 3 && !strcmp(argv[1], "--family")) {
		if (parse_u64(argv[2], &family) < 0 || family >= DISTILL_N_FAMILIES)
			return cli_usage_error("distill-truth",
					       "--family: must be an integer in [0, %d]",
					       DISTILL_N_FAMILIES - 1);
	} else if (argc > 1) {
		return cli_usage_error("distill-truth", "unexpected argument '%s'", argv[1]);
	}
	struct distill_family fam;
	distill_family((unsigned)family, &fam);
	struct distill_device edge = fam.edge;
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((n = getline(&buf, &cap, stdin)) >= 0) {
		struct json_object *req = json_tokener_parse(buf), *id, *rec;
		if (!req || !json_object_object_get_ex(req, "id", &id) ||
		    !json_object_object_get_ex(req, "record", &rec)) {
			if (req)
				json_object_put(req);
			return cli_error("distill-truth", "malformed request line");
		}
		const char *rs = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);
		struct tvmlog_record tr;
		double cost = 0;
		int eno = 1;
		if (tvmlog_parse_line(rs, strlen(rs), &tr, NULL, 0) == 0) {
			if (distill_model_cost(&edge, tr.steps, tr.n_steps, tr.shape, tr.n_shape,
					       &cost) == 0)
				eno = 0;
			tvmlog_record_done(&tr);
		}
		if (eno == 0)
			printf("{\"id\": %lld, \"costs\": [%.9g], \"error_no\": 0}\n",
			       (long long)json_object_get_int64(id), cost);
		else
			printf("{\"id\": %lld, \"costs\": [], \"error_no\": %d}\n",
			       (long long)json_object_get_int64(id), eno);
		json_object_put(req);
	}
	return ES_EXIT_OK;
}
ES_COMMAND("distill-truth", cmd_distill_truth,
	   "Measurer answering from the synthetic edge cost model");
