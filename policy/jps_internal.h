/* jps_internal.h — what the files of the JPS planner share: the chain helpers the
 * homogeneous, graph and heterogeneous planners all call. Pure, like the planner. */
#pragma once

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "jps.h"

/* --- shared between the files of this folder ---------------------------------- */

int jps_topo_order(const struct jps_model *m, uint32_t *order, uint32_t *ret_bad);
