/* main_edgeslice-burn.c — a stand-in inference task for demos, tests and benchmarks: keeps
 * a given number of cores busy and a given amount of memory resident for a given time. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "util.h"

static double cores = 1, seconds = 1;
static uint64_t deadline_ns, memory;
static unsigned nthreads;
static const char *stamp;

/* Appends "start|end <CLOCK_REALTIME ns> <pid>" to the --stamp file (benchmarks measure the gap
 * between one task's end and the next one's start). */
static void write_stamp(const char *what)
{
	struct timespec ts;
	FILE *f;

	if (!stamp)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	f = fopen(stamp, "ae");
	if (!f)
		return;
	fprintf(f, "%s %lld %d\n", what, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
		(int)getpid());
	fclose(f);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each thread is busy for duty * 10 ms of every 10 ms, so the task uses `cores` in total. */
static void *spin(void *arg)
{
	double duty = cores / nthreads;
	volatile uint64_t x = 0;

	for (uint64_t now = mono_ns(); now < deadline_ns; now = mono_ns()) {
		uint64_t busy_until = now + (uint64_t)(duty * 10e6);
		while (mono_ns() < busy_until)
			for (int i = 0; i < 1000; i++)
				x += (uint64_t)i;
		if (duty < 1) {
			struct timespec ts = {0, (long)((1 - duty) * 10e6)};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cores", required_argument, NULL, 'c'},   {"memory", required_argument, NULL, 'm'},
	    {"seconds", required_argument, NULL, 's'}, {"stamp", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},	       {},
	};
	pthread_t th[256];
	char *mem = NULL;
	int c;

	/* first thing after exec, before option parsing */
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--stamp"))
			stamp = argv[i + 1];
	write_stamp("start");

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			if (parse_cores(optarg, &cores) < 0 || cores <= 0 || cores > 256) {
				fprintf(stderr,
					"edgeslice-burn: --cores: must be > 0 and <= 256\n");
				return 2;
			}
			break;
		case 'm':
			if (parse_bytes(optarg, &memory) < 0) {
				fprintf(stderr,
					"edgeslice-burn: --memory: not a size (e.g. 330M)\n");
				return 2;
			}
			break;
		case 's':
			if (parse_double(optarg, &seconds) < 0 || seconds < 0 || seconds > 86400) {
				fprintf(stderr, "edgeslice-burn: --seconds: must be 0..86400\n");
				return 2;
			}
			break;
		case 'S':
			break;
		case 'h':
			printf(
			    "Usage: edgeslice-burn [--cores N] [--memory SIZE] [--seconds S] "
			    "[--stamp FILE]\n\n"
			    "Keeps N cores busy (default 1; fractions are duty cycles) with SIZE "
			    "of\n"
			    "resident memory (default 0) for S seconds (default 1), then exits 0.\n"
			    "--stamp appends \"start NS PID\" and \"end NS PID\" (CLOCK_REALTIME) "
			    "lines to FILE.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (memory) {
		mem =
		    mmap(NULL, memory, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			fprintf(stderr, "edgeslice-burn: %s\n", strerror(errno));
			return 1;
		}
		memset(mem, 1, memory); /* resident, so memory.current shows it */
	}
	nthreads = (unsigned)ceil(cores);
	deadline_ns = mono_ns() + (uint64_t)(seconds * 1e9);
	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, spin, NULL) != 0)
			return 1;
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	write_stamp("end");
	return 0;
}
