/* SPDX-License-Identifier: MIT */
/*
 * fr_bench_relay: the reference userspace fan-out relay, "what a careful engineer would write instead".
 *
 *   fr_bench_relay --port P --subscribers ADDR:PORT[,ADDR:PORT...] [--cpu N] [--duration S]
 *
 * One dual-stack UDP socket bound to [::]:P (IPv4 subscribers are sent to as v4-mapped addresses). recvmmsg (batch
 * 32, blocking with MSG_WAITFORONE) takes in whatever is queued; for each custom-UDP DATA datagram one copy per
 * subscriber, each with its own gapless header sequence (bytes 4..7, BE, from 0), the start subscriber rotating per
 * packet. No payload is copied: a copy is two iovecs, its own 16-byte header and the received payload. All copies of a
 * batch go out in as few sendmmsg calls as possible (at most 1024 messages per call). Non-DATA datagrams are counted
 * ("ignored") and dropped. No handshake, no state beyond the static subscriber list: a baseline, not a relay.
 * Stops on SIGTERM/SIGINT or after --duration and prints one line (stdout):
 *   {"received":N,"copies":N,"syscalls":N,"syscalls_per_packet":x,"ignored":N,"send_errors":N,"seconds":x}
 * received = datagrams in (DATA or not), copies = copies the kernel accepted, syscalls = recvmmsg calls that returned
 * datagrams + sendmmsg calls (the idle wake-ups of the 200 ms receive timeout that backs --duration are not counted),
 * syscalls_per_packet = syscalls / received. stderr: "fr_bench_relay: ready" once bound.
 *
 * cc -O2 -Wall -o fr_bench_relay fr_bench_relay.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HDR 16
#define BATCH 32
#define SLOT 65536
#define MAX_SUBS 1024
#define SEND_MAX 1024 /* UIO_MAXIOV: most messages one sendmmsg takes */

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ADDR:PORT or [ADDR6]:PORT as an AF_INET6 sockaddr (IPv4 v4-mapped) for the dual-stack socket. */
static int parse_endpoint6(const char *text, size_t text_len, struct sockaddr_in6 *out)
{
	char buf[160], host[128];
	const char *colon;
	if (text_len >= sizeof(buf)) return -1;
	memcpy(buf, text, text_len);
	buf[text_len] = 0;
	memset(out, 0, sizeof(*out));
	if (buf[0] == '[') {
		const char *end = strchr(buf, ']');
		if (!end || end[1] != ':' || (size_t)(end - buf - 1) >= sizeof(host)) return -1;
		memcpy(host, buf + 1, end - buf - 1);
		host[end - buf - 1] = 0;
		colon = end + 1;
	} else {
		colon = strrchr(buf, ':');
		if (!colon || (size_t)(colon - buf) >= sizeof(host)) return -1;
		memcpy(host, buf, colon - buf);
		host[colon - buf] = 0;
	}
	char *e;
	long port = strtol(colon + 1, &e, 10);
	if (*e || port <= 0 || port > 65535) return -1;
	struct in_addr v4;
	out->sin6_family = AF_INET6;
	out->sin6_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &v4) == 1) {
		out->sin6_addr.s6_addr[10] = 0xff;
		out->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&out->sin6_addr.s6_addr[12], &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, host, &out->sin6_addr) == 1 ? 0 : -1;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "fr_bench_relay: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static void usage(void)
{
	fprintf(stderr, "usage: fr_bench_relay --port P --subscribers ADDR:PORT[,ADDR:PORT...] [--cpu N] [--duration S]\n");
	exit(1);
}

static struct sockaddr_in6 subs[MAX_SUBS];
static uint32_t next_seq[MAX_SUBS];
static uint8_t rx_bufs[BATCH][SLOT];
static uint8_t tx_hdrs[BATCH * MAX_SUBS][HDR];

int main(int argc, char **argv)
{
	long port = 0, cpu = -1;
	double duration = 0;
	int nsubs = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) usage();
		i++;
		if (!strcmp(a, "--port")) port = strtol(v, NULL, 10);
		else if (!strcmp(a, "--cpu")) cpu = strtol(v, NULL, 10);
		else if (!strcmp(a, "--duration")) duration = strtod(v, NULL);
		else if (!strcmp(a, "--subscribers")) {
			const char *s = v;
			while (*s) {
				const char *comma = strchr(s, ',');
				size_t len = comma ? (size_t)(comma - s) : strlen(s);
				if (nsubs == MAX_SUBS || parse_endpoint6(s, len, &subs[nsubs])) {
					fprintf(stderr, "fr_bench_relay: bad subscriber %.*s (or more than %d)\n", (int)len, s, MAX_SUBS);
					return 1;
				}
				nsubs++;
				s += len + (comma ? 1 : 0);
			}
		} else usage();
	}
	if (port <= 0 || port > 65535 || nsubs == 0 || duration < 0) usage();
	const int per_call = BATCH * nsubs; /* copies of one receive batch */

	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: a blocked recvmmsg returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (cpu >= 0) pin_cpu((int)cpu);

	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0) { perror("socket"); return 1; }
	int zero = 0, buf = 8 << 20;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* A backstop for --duration and a signal that lands just before the call blocks. */
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in6 local = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_ANY_INIT };
	if (bind(fd, (struct sockaddr *)&local, sizeof(local))) { perror("bind"); return 1; }

	struct mmsghdr *rx = calloc(BATCH, sizeof(*rx));
	struct iovec *rx_iov = calloc(BATCH, sizeof(*rx_iov));
	struct mmsghdr *tx = calloc((size_t)per_call, sizeof(*tx));
	struct iovec *tx_iov = calloc((size_t)per_call * 2, sizeof(*tx_iov));
	if (!rx || !rx_iov || !tx || !tx_iov) return 1;
	for (int i = 0; i < BATCH; i++) {
		rx_iov[i].iov_base = rx_bufs[i];
		rx_iov[i].iov_len = SLOT;
		rx[i].msg_hdr.msg_iov = &rx_iov[i];
		rx[i].msg_hdr.msg_iovlen = 1;
	}
	for (int k = 0; k < per_call; k++) {
		tx_iov[2 * k].iov_base = tx_hdrs[k];
		tx_iov[2 * k].iov_len = HDR;
		tx[k].msg_hdr.msg_iov = &tx_iov[2 * k];
		tx[k].msg_hdr.msg_iovlen = 2;
		tx[k].msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
	}
	fprintf(stderr, "fr_bench_relay: ready\n");

	uint64_t received = 0, copies = 0, syscalls = 0, ignored = 0, send_errors = 0, rotation = 0;
	const uint64_t start = now_ns();
	const uint64_t end = duration > 0 ? start + (uint64_t)(duration * 1e9) : UINT64_MAX;
	while (!g_stop) {
		int n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (now_ns() >= end) break;
			continue; /* EINTR (signal), EAGAIN (timeout backstop) */
		}
		syscalls++;
		received += (uint64_t)n;
		int m = 0;
		for (int i = 0; i < n; i++) {
			const uint8_t *p = rx_bufs[i];
			size_t len = rx[i].msg_len;
			if (len < HDR || (p[0] & 0xF8) != 0x18) { ignored++; continue; }
			int first = (int)(rotation++ % (uint64_t)nsubs);
			for (int j = 0; j < nsubs; j++) {
				int s = first + j;
				if (s >= nsubs) s -= nsubs;
				uint8_t *h = tx_hdrs[m];
				memcpy(h, p, HDR);
				uint32_t seq = next_seq[s]++;
				h[4] = seq >> 24; h[5] = seq >> 16; h[6] = seq >> 8; h[7] = (uint8_t)seq;
				tx_iov[2 * m + 1].iov_base = (void *)(p + HDR);
				tx_iov[2 * m + 1].iov_len = len - HDR;
				tx[m].msg_hdr.msg_name = &subs[s];
				m++;
			}
		}
		for (int off = 0; off < m;) {
			int want = m - off < SEND_MAX ? m - off : SEND_MAX;
			int r = sendmmsg(fd, tx + off, (unsigned)want, 0);
			syscalls++;
			if (r > 0) { copies += (uint64_t)r; off += r; }
			else if (r < 0 && errno == EINTR) continue;
			else { send_errors++; off++; } /* the first message failed: skip it (counted), keep the rest */
		}
		if (duration > 0 && now_ns() >= end) break;
	}
	double seconds = (now_ns() - start) / 1e9;
	printf("{\"received\":%llu,\"copies\":%llu,\"syscalls\":%llu,\"syscalls_per_packet\":%.4f,\"ignored\":%llu,\"send_errors\":%llu,\"seconds\":%.6f}\n",
	       (unsigned long long)received, (unsigned long long)copies, (unsigned long long)syscalls,
	       received ? (double)syscalls / (double)received : 0.0, (unsigned long long)ignored,
	       (unsigned long long)send_errors, seconds);
	fflush(stdout);
	close(fd);
	return 0;
}
