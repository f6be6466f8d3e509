/* SPDX-License-Identifier: MIT */
/*
 * fr_bench_send: the bench's paced custom-UDP DATA sender.
 *
 *   fr_bench_send --to ADDR:PORT --channel C --rate PPS --size BYTES --duration S
 *                 [--publish] [--cpu N] [--priority P|cycle] [--spin-us N]
 *
 * ADDR is an IPv4 address or an IPv6 address in brackets ([fd12::1]:7400).
 * --size is the UDP payload (16-byte header + test payload), >= 32.
 * --publish: PUBLISH -> CHALLENGE -> CONFIRM -> REPLY with the relay at --to first (PUBLISH again every 200 ms
 *   until a REPLY; exit 2 when not accepted within 10 s), and answer any later CHALLENGE (checked every 64 packets:
 *   a restarted relay challenges the DATA it does not know).
 * Pacing: absolute schedule start + n/rate, busy-waiting on CLOCK_MONOTONIC (no sleep). A sender more than 50 ms
 *   late (preempted) restarts the schedule instead of bursting; "resets" counts that. --spin-us N: sleep
 *   (clock_nanosleep, absolute) until N µs before each send time and spin only for the rest, which leaves the CPU to
 *   others at low rates (default: always spin). --priority: 0..7 for every packet (default 0) or cycle (seq % 8).
 * DATA header: 0x18, priority, channel, sequence = publisher sequence (u32), CLOCK_MONOTONIC ns stamped just before
 *   send(). Payload: protocols/custom-udp/Wire/TestPayload.cs byte for byte (the .NET subscriber's check passes).
 * Output (stdout, one line): {"sent":N,"seconds":S,"rate":R,"errors":N,"resets":N,"rechallenged":N,"attempts":N}
 * stderr: "fr_bench_send: accepted" once the relay accepted (with --publish). Exit 0 ok, 1 usage/socket error,
 * 2 handshake failed.
 *
 * cc -O2 -Wall -o fr_bench_send fr_bench_send.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 16
#define PAYLOAD_MIN 16
#define MAX_PACKET (HDR + 65535)

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static void put64le(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static int parse_endpoint(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host)) return -1;
		memcpy(host, text + 1, end - text - 1);
		host[end - text - 1] = 0;
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || (size_t)(colon - text) >= sizeof(host)) return -1;
		memcpy(host, text, colon - text);
		host[colon - text] = 0;
	}
	char *e;
	long port = strtol(colon + 1, &e, 10);
	if (*e || port < 0 || port > 65535) return -1;
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "fr_bench_send: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

/* ---- TestPayload (protocols/custom-udp/Wire/TestPayload.cs) ---- */

static uint64_t splitmix_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void write_test_payload(uint8_t *p, uint16_t channel, uint64_t seq, uint16_t length)
{
	put64(p, seq);
	put16(p + 8, channel);
	put16(p + 10, length);
	uint64_t state = seq * 0x9E3779B97F4A7C15ull ^ ((uint64_t)channel << 48 | (uint64_t)length << 32 | 0x5EEDC0DEull);
	put32(p + 12, (uint32_t)splitmix_next(&state));
	size_t i = PAYLOAD_MIN;
	for (; i + 8 <= length; i += 8)
		put64le(p + i, splitmix_next(&state));
	if (i < length) {
		uint64_t last = splitmix_next(&state);
		for (size_t k = 0; i < length; i++, k++)
			p[i] = (uint8_t)(last >> (8 * k));
	}
}

/* ---- control messages ---- */

enum { T_PUBLISH = 2, T_CHALLENGE = 3, T_CONFIRM = 4, T_REPLY = 5 };
enum { ROLE_PUBLISHER = 2 };

static size_t control_begin(uint8_t *p, uint8_t type, uint16_t channel)
{
	memset(p, 0, HDR);
	p[0] = 0x10;
	put16(p + 2, channel);
	put64(p + 8, now_ns());
	p[HDR] = type;
	return HDR + 1;
}

static ssize_t send_publish(int fd, uint16_t channel)
{
	uint8_t p[HDR + 64];
	memset(p, 0, sizeof(p));
	control_begin(p, T_PUBLISH, channel);
	return send(fd, p, sizeof(p), 0);
}

static ssize_t send_confirm(int fd, uint16_t channel, const uint8_t *cookie)
{
	uint8_t p[HDR + 1 + 1 + 16 + 4 + 4];
	size_t o = control_begin(p, T_CONFIRM, channel);
	p[o] = ROLE_PUBLISHER;
	memcpy(p + o + 1, cookie, 16);
	put32(p + o + 17, 0); /* history_ms */
	put32(p + o + 21, 0); /* rate */
	return send(fd, p, sizeof(p), 0);
}

/* A CHALLENGE for us: answers it and returns 1. A REPLY: returns 100 + status. Anything else: 0. */
static int handle_control(int fd, const uint8_t *p, ssize_t n, uint16_t channel)
{
	if (n < HDR + 1 || p[0] != 0x10 || p[1] != 0 || ((uint16_t)(p[2] << 8 | p[3])) != channel)
		return 0;
	if (p[HDR] == T_CHALLENGE && n == HDR + 18 && p[HDR + 1] == ROLE_PUBLISHER) {
		send_confirm(fd, channel, p + HDR + 2);
		return 1;
	}
	if (p[HDR] == T_REPLY && n == HDR + 12 && p[HDR + 1] == ROLE_PUBLISHER && p[HDR + 2] <= 3)
		return 100 + p[HDR + 2];
	return 0;
}

static int handshake(int fd, uint16_t channel, int *attempts)
{
	const uint64_t deadline = now_ns() + 10000000000ull;
	uint8_t rx[2048];
	while (!g_stop && now_ns() < deadline) {
		++*attempts;
		send_publish(fd, channel);
		uint64_t retry = now_ns() + 200000000ull;
		for (;;) {
			int64_t left = (int64_t)(retry - now_ns());
			if (left <= 0 || g_stop) break;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) <= 0) continue;
			ssize_t n = recv(fd, rx, sizeof(rx), MSG_DONTWAIT);
			if (n < 0) continue; /* e.g. ECONNREFUSED: no relay yet */
			int r = handle_control(fd, rx, n, channel);
			if (r == 100) return 0;
			if (r == 101 || r == 103) {
				fprintf(stderr, "fr_bench_send: relay refused: %s\n", r == 101 ? "relay full" : "channel has an upstream");
				return -1;
			}
			if (r == 102) break; /* bad cookie (time slot rolled over): PUBLISH again now */
		}
	}
	fprintf(stderr, "fr_bench_send: no REPLY from the relay within 10 s\n");
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: fr_bench_send --to ADDR:PORT --channel C --rate PPS --size BYTES --duration S "
			"[--publish] [--cpu N] [--priority P|cycle] [--spin-us N]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage to;
	socklen_t to_len = 0;
	long channel = 1, rate = 1000, size = 256, cpu = -1, priority = 0, spin_us = -1;
	double duration = 1.0;
	int publish = 0, cycle = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--publish")) { publish = 1; continue; }
		if (!v) usage();
		i++;
		if (!strcmp(a, "--to")) { if (parse_endpoint(v, &to, &to_len)) { fprintf(stderr, "fr_bench_send: bad address %s\n", v); return 1; } }
		else if (!strcmp(a, "--channel")) channel = strtol(v, NULL, 10);
		else if (!strcmp(a, "--rate")) rate = strtol(v, NULL, 10);
		else if (!strcmp(a, "--size")) size = strtol(v, NULL, 10);
		else if (!strcmp(a, "--duration")) duration = strtod(v, NULL);
		else if (!strcmp(a, "--cpu")) cpu = strtol(v, NULL, 10);
		else if (!strcmp(a, "--spin-us")) spin_us = strtol(v, NULL, 10);
		else if (!strcmp(a, "--priority")) {
			if (!strcmp(v, "cycle")) cycle = 1;
			else priority = strtol(v, NULL, 10);
		} else usage();
	}
	if (!to_len || channel < 0 || channel > 65535 || rate <= 0 || size < HDR + PAYLOAD_MIN || size > MAX_PACKET
	    || duration <= 0 || priority < 0 || priority > 7)
		usage();

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (cpu >= 0) pin_cpu((int)cpu);

	int fd = socket(to.ss_family, SOCK_DGRAM, 0);
	if (fd < 0) { perror("socket"); return 1; }
	int buf = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* Connected: the route is looked up once, and only the relay's answers are received. */
	if (connect(fd, (struct sockaddr *)&to, to_len)) { perror("connect"); return 1; }

	int attempts = 0;
	if (publish) {
		if (handshake(fd, (uint16_t)channel, &attempts)) return 2;
		fprintf(stderr, "fr_bench_send: accepted\n");
	}

	uint8_t *pkt = calloc(1, (size_t)size);
	uint8_t rx[2048];
	if (!pkt) return 1;
	const uint64_t start = now_ns();
	const uint64_t end = start + (uint64_t)(duration * 1e9);
	uint64_t sched_start = start, n_sched = 0, seq = 0;
	uint64_t sent = 0, errors = 0, resets = 0, rechallenged = 0;
	while (!g_stop) {
		uint64_t due = sched_start + (uint64_t)((unsigned __int128)n_sched * 1000000000u / (uint64_t)rate);
		if (due >= end) break;
		pkt[0] = 0x18;
		pkt[1] = (uint8_t)(cycle ? (long)(seq & 7) : priority);
		put16(pkt + 2, (uint16_t)channel);
		put32(pkt + 4, (uint32_t)seq);
		write_test_payload(pkt + HDR, (uint16_t)channel, seq, (uint16_t)(size - HDR));
		uint64_t now;
		if (spin_us >= 0 && due > now_ns() + (uint64_t)spin_us * 1000 + 20000) {
			uint64_t wake = due - (uint64_t)spin_us * 1000;
			struct timespec ts = { .tv_sec = (time_t)(wake / 1000000000ull), .tv_nsec = (long)(wake % 1000000000ull) };
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		while ((now = now_ns()) < due)
			;
		if (now > due + 50000000ull) { /* preempted for > 50 ms: restart the schedule rather than burst */
			resets++;
			sched_start = now;
			n_sched = 0;
		}
		put64(pkt + 8, now_ns());
		if (send(fd, pkt, (size_t)size, 0) == size) sent++;
		else errors++;
		seq++;
		n_sched++;
		if (publish && (seq & 63) == 0) {
			ssize_t n;
			while ((n = recv(fd, rx, sizeof(rx), MSG_DONTWAIT)) >= 0 || errno == ECONNREFUSED)
				if (n >= 0 && handle_control(fd, rx, n, (uint16_t)channel) == 1) rechallenged++;
		}
	}
	double seconds = (now_ns() - start) / 1e9;
	printf("{\"sent\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"errors\":%llu,\"resets\":%llu,\"rechallenged\":%llu,\"attempts\":%d}\n",
	       (unsigned long long)sent, seconds, seconds > 0 ? sent / seconds : 0.0, (unsigned long long)errors,
	       (unsigned long long)resets, (unsigned long long)rechallenged, attempts);
	fflush(stdout);
	free(pkt);
	close(fd);
	return 0;
}
