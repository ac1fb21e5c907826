/* es-traffic.c — minimal TCP bulk sender/receiver for the shaper's integration test and
 * benchmark (no iperf on the test hosts). Receiver reports goodput after a warm-up as JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: es-traffic recv ADDR:PORT [SKIP_SECONDS] [READY_FILE]\n"
			"       es-traffic send ADDR:PORT SECONDS [SRC_ADDR|-] [SNDBUF_BYTES]\n");
	return 2;
}

static int do_recv(int argc, char **argv)
{
	struct sockaddr_in sa;
	double skip = argc > 3 ? atof(argv[3]) : 0, t0 = 0, tskip = 0, tlast = 0;
	uint64_t total = 0, at_skip = 0;
	static char buf[1 << 16];
	int one = 1, ls, c;

	if (parse_addr(argv[2], &sa) < 0)
		return usage();
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
		perror("es-traffic recv");
		return 1;
	}
	if (argc > 4) {
		FILE *f = fopen(argv[4], "w");
		if (f)
			fclose(f);
	}
	c = accept(ls, NULL, NULL);
	if (c < 0) {
		perror("accept");
		return 1;
	}
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		double t;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		t = now();
		if (!t0)
			t0 = t;
		total += (uint64_t)n;
		/* The window starts after this read: its bytes arrived before t. */
		if (!tskip && t - t0 >= skip) {
			tskip = t;
			at_skip = total;
		}
		tlast = t;
	}
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"window_bytes\":%llu,\"window_seconds\":%.6f,"
	       "\"goodput_bytes_per_s\":%.1f}\n",
	       (unsigned long long)total, tlast - t0, (unsigned long long)(total - at_skip),
	       tlast - tskip, tlast > tskip ? (double)(total - at_skip) / (tlast - tskip) : 0.0);
	return 0;
}

static int do_send(int argc, char **argv)
{
	struct sockaddr_in sa, src;
	static char buf[1 << 16];
	double secs, end;
	uint64_t total = 0;
	int s;

	if (argc < 4 || parse_addr(argv[2], &sa) < 0)
		return usage();
	secs = atof(argv[3]);
	s = socket(AF_INET, SOCK_STREAM, 0);
	bool bind_src = argc > 4 && strcmp(argv[4], "-") != 0;
	if (bind_src) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		if (inet_pton(AF_INET, argv[4], &src.sin_addr) != 1 ||
		    bind(s, (struct sockaddr *)&src, sizeof(src)) < 0) {
			perror("es-traffic send: bind");
			return 1;
		}
	}
	for (int i = 0; connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0; i++) {
		if (i > 50) {
			perror("es-traffic send: connect");
			return 1;
		}
		usleep(20000);
		close(s);
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (bind_src)
			bind(s, (struct sockaddr *)&src, sizeof(src));
	}
	memset(buf, 'x', sizeof(buf));
	/* A small send buffer and an abortive close: at 1 Mbit/s a default (autotuned, MBs)
	 * buffer would keep draining for many seconds after the run. 32 kB (the kernel doubles
	 * it) keeps a flow's data in flight below the shaper's 32-packet minimum FIFO, so runs
	 * measure the shaper, not TCP's recovery from tail drops (an RTO stalls a flow 200+ ms). */
	{
		int sndbuf = argc > 5 ? atoi(argv[5]) : 32 * 1024;
		if (sndbuf > 0)
			setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	end = now() + secs;
	while (now() < end) {
		ssize_t n = write(s, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("write");
			return 1;
		}
		total += (uint64_t)n;
	}
	{
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(s);
	printf("{\"sent_bytes\":%llu}\n", (unsigned long long)total);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "recv"))
		return do_recv(argc, argv);
	if (argc >= 4 && !strcmp(argv[1], "send"))
		return do_send(argc, argv);
	return usage();
}
