/* mrs_sim.c — stand-alone driver of dag_sim_main for bench-mrs, so the benchmark does not depend
 * on where the `sim` command is registered. argv is passed through (argv[0] acts as "sim"). */
#include "dagsim.h"

int main(int argc, char **argv)
{
	return dag_sim_main(argc, argv);
}
