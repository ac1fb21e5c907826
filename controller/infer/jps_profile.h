/* jps_profile.h — layer profiles on disk: JSON parsing/writing for the JPS planner
 * (format in docs/JPS.md) and lookup of built-in profiles by name. */
#pragma once

#include <stddef.h>

#include "jps.h"

/* Parses a profile. On error returns -EINVAL (or -ENOMEM, -ELOOP for a cycle, -EEXIST for
 * a duplicate layer name) and writes a one-line message naming the field into err. */
int jps_profile_parse(const char *json, size_t len, struct jps_model **ret, char *err,
		      size_t errlen);
/* spec is a built-in name (alexnet, mobilenet-v2, googlenet, resnet-18) or a file path
 * (anything containing '/' or ending in .json). */
int jps_profile_load(const char *spec, struct jps_model **ret, char *err, size_t errlen);
/* Serialises a model in the same format (pretty-printed, newline-terminated). */
int jps_profile_format(const struct jps_model *m, char **ret_json);
