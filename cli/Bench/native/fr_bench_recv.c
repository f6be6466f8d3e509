/* SPDX-License-Identifier: MIT */
/*
 * fr_bench_recv: the bench's measuring receiver.
 *
 *   fr_bench_recv --bind ADDR:PORT [--subscribe RELAY:PORT --channel C] --duration S
 *                 [--cpu N] [--samples FILE] [--expect N] [--warmup S] [--block] [--drain-ms N] [--verify]
 *                 [--max-samples N]
 *
 * --subscribe: SUBSCRIBE -> CHALLENGE -> CONFIRM -> REPLY (history 0, rate unlimited 0xFFFFFFFF) from the bound socket
 *   (SUBSCRIBE again every 200 ms until a REPLY; exit 2 when not accepted within 10 s), then FEEDBACK every 100 ms and
 *   UNSUBSCRIBE at the end, both carrying the session secret from the REPLY (a REPLY after the handshake, which the relay
 *   repeats when the first was lost, updates it). Other CONTROL packets after the handshake are counted ("control") and
 *   otherwise ignored.
 * --channel: only DATA of this channel is measured (others count as "other"); without it every DATA packet is.
 * Receiving: non-blocking socket, recvmmsg (batch 32, MSG_DONTWAIT) in a busy-poll loop; the receive time is read
 *   (CLOCK_MONOTONIC) right after recvmmsg returns and applies to every datagram of that batch. --block: blocking
 *   recvmmsg (MSG_WAITFORONE, 100 ms timeout) instead, for receivers that are not measured.
 *   --drain-ms N: drain the socket (recvmmsg, MSG_DONTWAIT) every N ms and sleep in between: a subscriber that is
 *   not measured then costs the shared CPUs about 1000/N wake-ups a second instead of one per packet. In a real
 *   deployment every subscriber runs on its own host; on a 2-CPU lab machine, 62 receivers woken per packet would be
 *   most of the load the relay competes with.
 * Delay = receive time - header timestamp (bytes 8..15; sender and receiver share the machine's clock).
 * --warmup S (default 0.5): DATA received in the first S seconds after the first DATA packet is counted in
 *   "received_total"/"warmup" but not measured. --duration S: receive for S seconds after the handshake (or until
 *   SIGTERM/SIGINT). --expect N: stop early once N DATA packets (warm-up included) have arrived.
 * Measured: publisher sequence (payload offset 0, u64 BE): lost = (max - min + 1) - distinct, duplicates; header
 *   sequence (bytes 4..7, the per-receiver numbering): "seq_gaps" = packets whose header sequence is not the previous
 *   one + 1 (receive order, all DATA incl. warm-up), "first_seq"/"last_seq". --verify: check the TestPayload pattern
 *   (protocols/custom-udp/Wire/TestPayload.cs), failures count as "corrupt".
 * Delays are kept in a preallocated array (cap --max-samples, default 10M, or --expect), sorted at the end;
 *   percentiles are nearest-rank. jitter = mean |d(i) - d(i-1)| over consecutive measured packets (RFC 3550 without
 *   smoothing). --samples FILE: the measured delays in receive order, ns, little-endian u64.
 * Output (stdout, one line):
 *   {"received":N,"lost":N,"duplicates":N,"p50_us":x,"p90_us":x,"p99_us":x,"p999_us":x,"max_us":x,"mean_us":x,
 *    "jitter_us":x,"min_us":x,"received_total":N,"warmup":N,"other":N,"control":N,"corrupt":N,"seq_gaps":N,
 *    "first_seq":N,"last_seq":N,"samples_dropped":N,"seconds":x}
 * stderr: "fr_bench_recv: ready" once bound, "fr_bench_recv: subscribed" once accepted.
 * Exit 0 ok, 1 usage/socket error, 2 handshake failed.
 *
 * cc -O2 -Wall -o fr_bench_recv fr_bench_recv.c
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 16
#define BATCH 32
#define SLOT 2048 /* bytes kept per datagram: header + payload prefix (more is truncated unless --verify) */
#define SEQ_WINDOW_BITS 27 /* distinct publisher sequences tracked: 2^27 (16 MiB bitmap) */

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
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }
static uint64_t get64le(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

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

static int same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "fr_bench_recv: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

/* Memory touched now, not in the receive loop. */
static void *prefaulted(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); exit(1); }
	return p;
}

/* ---- TestPayload check (protocols/custom-udp/Wire/TestPayload.cs) ---- */

static uint64_t splitmix_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int test_payload_ok(const uint8_t *p, size_t length)
{
	if (length < 16 || get16(p + 10) != length) return 0;
	uint64_t seq = get64(p);
	uint16_t channel = get16(p + 8);
	uint64_t state = seq * 0x9E3779B97F4A7C15ull ^ ((uint64_t)channel << 48 | (uint64_t)length << 32 | 0x5EEDC0DEull);
	uint64_t diff = get32(p + 12) ^ (uint32_t)splitmix_next(&state);
	size_t i = 16;
	for (; i + 8 <= length; i += 8)
		diff |= get64le(p + i) ^ splitmix_next(&state);
	if (i < length) {
		uint64_t last = splitmix_next(&state);
		for (size_t k = 0; i < length; i++, k++)
			diff |= (uint8_t)(p[i] ^ (uint8_t)(last >> (8 * k)));
	}
	return diff == 0;
}

/* ---- control messages ---- */

enum { T_SUBSCRIBE = 1, T_CHALLENGE = 3, T_CONFIRM = 4, T_REPLY = 5, T_FEEDBACK = 6, T_UNSUBSCRIBE = 10 };
enum { ROLE_SUBSCRIBER = 1 };
#define UNLIMITED 0xFFFFFFFFu

static int g_fd;
static struct sockaddr_storage g_relay;
static socklen_t g_relay_len;
static uint16_t g_channel;
static uint8_t g_session[8]; /* from the relay's REPLY; FEEDBACK and UNSUBSCRIBE must carry it */

/* A REPLY accepting us (type, role, status 0, slot, 8-byte session): keeps the session. */
static int take_reply(const uint8_t *p, size_t n)
{
	if (n != HDR + 12 || p[0] != 0x10 || p[HDR] != 5 /* T_REPLY */ || p[HDR + 1] != 1 /* subscriber */)
		return 0;
	if (p[HDR + 2] == 0)
		memcpy(g_session, p + HDR + 4, 8);
	return 1;
}

static size_t control_begin(uint8_t *p, uint8_t type)
{
	memset(p, 0, HDR);
	p[0] = 0x10;
	put16(p + 2, g_channel);
	put64(p + 8, now_ns());
	p[HDR] = type;
	return HDR + 1;
}

static void send_control(const uint8_t *p, size_t n)
{
	sendto(g_fd, p, n, 0, (const struct sockaddr *)&g_relay, g_relay_len);
}

static void send_subscribe(void)
{
	uint8_t p[HDR + 64];
	memset(p, 0, sizeof(p));
	size_t o = control_begin(p, T_SUBSCRIBE);
	put32(p + o, 0);         /* history_ms */
	put32(p + o + 4, UNLIMITED);
	send_control(p, sizeof(p));
}

static void send_confirm(const uint8_t *cookie)
{
	uint8_t p[HDR + 1 + 1 + 16 + 4 + 4];
	size_t o = control_begin(p, T_CONFIRM);
	p[o] = ROLE_SUBSCRIBER;
	memcpy(p + o + 1, cookie, 16);
	put32(p + o + 17, 0);
	put32(p + o + 21, UNLIMITED);
	send_control(p, sizeof(p));
}

static void send_feedback(uint32_t next_expected)
{
	uint8_t p[HDR + 1 + 8 + 4 + 4];
	size_t o = control_begin(p, T_FEEDBACK);
	memcpy(p + o, g_session, 8);
	put32(p + o + 8, UNLIMITED);
	put32(p + o + 12, next_expected);
	send_control(p, sizeof(p));
}

static void send_unsubscribe(void)
{
	uint8_t p[HDR + 1 + 8];
	size_t o = control_begin(p, T_UNSUBSCRIBE);
	memcpy(p + o, g_session, 8);
	send_control(p, sizeof(p));
}

static int handshake(void)
{
	const uint64_t deadline = now_ns() + 10000000000ull;
	uint8_t rx[2048];
	struct sockaddr_storage from;
	int confirming = 0;
	while (!g_stop && now_ns() < deadline) {
		send_subscribe();
		uint64_t retry = now_ns() + 200000000ull;
		for (;;) {
			int64_t left = (int64_t)(retry - now_ns());
			if (left <= 0 || g_stop) break;
			struct pollfd pfd = { .fd = g_fd, .events = POLLIN };
			if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) <= 0) continue;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(g_fd, rx, sizeof(rx), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (n < HDR) continue;
			if ((rx[0] & 0xF8) == 0x18 && confirming)
				return 0; /* the REPLY was lost but DATA flows: we are in */
			if (!same_endpoint(&from, &g_relay) || rx[0] != 0x10 || n < HDR + 1 || get16(rx + 2) != g_channel)
				continue;
			if (rx[HDR] == T_CHALLENGE && n == HDR + 18 && rx[HDR + 1] == ROLE_SUBSCRIBER) {
				send_confirm(rx + HDR + 2);
				confirming = 1;
			} else if (rx[HDR] == T_REPLY && take_reply(rx, (size_t)n)) {
				uint8_t status = rx[HDR + 2];
				if (status == 0) return 0;
				if (status == 2) break; /* bad cookie: SUBSCRIBE again now */
				fprintf(stderr, "fr_bench_recv: relay refused (status %u)\n", status);
				return -1;
			}
		}
	}
	fprintf(stderr, "fr_bench_recv: no REPLY from the relay within 10 s\n");
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *sorted, uint64_t n, double p)
{
	if (!n) return 0;
	uint64_t rank = (uint64_t)(p * (double)n + 0.999999999); /* nearest rank, 1-based */
	if (rank < 1) rank = 1;
	if (rank > n) rank = n;
	return sorted[rank - 1] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr, "usage: fr_bench_recv --bind ADDR:PORT [--subscribe RELAY:PORT --channel C] --duration S [--cpu N] "
			"[--samples FILE] [--expect N] [--warmup S] [--block] [--drain-ms N] [--verify] [--max-samples N]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage bind_addr;
	socklen_t bind_len = 0;
	long cpu = -1, channel = -1, drain_ms = 0;
	long long expect = 0, max_samples = 10000000;
	double duration = 1.0, warmup = 0.5;
	const char *samples_path = NULL;
	int subscribe = 0, block = 0, verify = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--block")) { block = 1; continue; }
		if (!strcmp(a, "--verify")) { verify = 1; continue; }
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) usage();
		i++;
		if (!strcmp(a, "--bind")) { if (parse_endpoint(v, &bind_addr, &bind_len)) { fprintf(stderr, "fr_bench_recv: bad address %s\n", v); return 1; } }
		else if (!strcmp(a, "--subscribe")) {
			if (parse_endpoint(v, &g_relay, &g_relay_len)) { fprintf(stderr, "fr_bench_recv: bad address %s\n", v); return 1; }
			subscribe = 1;
		}
		else if (!strcmp(a, "--channel")) channel = strtol(v, NULL, 10);
		else if (!strcmp(a, "--duration")) duration = strtod(v, NULL);
		else if (!strcmp(a, "--warmup")) warmup = strtod(v, NULL);
		else if (!strcmp(a, "--cpu")) cpu = strtol(v, NULL, 10);
		else if (!strcmp(a, "--samples")) samples_path = v;
		else if (!strcmp(a, "--expect")) expect = strtoll(v, NULL, 10);
		else if (!strcmp(a, "--max-samples")) max_samples = strtoll(v, NULL, 10);
		else if (!strcmp(a, "--drain-ms")) drain_ms = strtol(v, NULL, 10);
		else usage();
	}
	if (!bind_len || duration <= 0 || warmup < 0 || channel > 65535 || max_samples < 1 || expect < 0 || drain_ms < 0 || drain_ms > 1000 ||
	    (drain_ms && block))
		usage();
	if (subscribe && channel < 0) { fprintf(stderr, "fr_bench_recv: --subscribe needs --channel\n"); return 1; }
	if (subscribe && g_relay.ss_family != bind_addr.ss_family) { fprintf(stderr, "fr_bench_recv: --bind and --subscribe must be the same family\n"); return 1; }
	if (expect > 0 && expect < max_samples) max_samples = expect;
	g_channel = channel >= 0 ? (uint16_t)channel : 0;

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (cpu >= 0) pin_cpu((int)cpu);

	g_fd = socket(bind_addr.ss_family, SOCK_DGRAM, 0);
	if (g_fd < 0) { perror("socket"); return 1; }
	int one = 1, buf = 8 << 20;
	if (setsockopt(g_fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(g_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind_addr.ss_family == AF_INET6)
		setsockopt(g_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(g_fd, (struct sockaddr *)&bind_addr, bind_len)) { perror("bind"); return 1; }
	if (block) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
		setsockopt(g_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}

	/* Everything the loop touches is allocated and faulted in before the first packet. */
	uint64_t *delays = prefaulted((size_t)max_samples * sizeof(uint64_t));
	uint8_t *seen = prefaulted((size_t)1 << (SEQ_WINDOW_BITS - 3));
	const size_t slot = verify ? 65536 : SLOT;
	uint8_t *bufs = prefaulted((size_t)BATCH * slot);
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct sockaddr_storage froms[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iovs[i].iov_base = bufs + (size_t)i * slot;
		iovs[i].iov_len = slot;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &froms[i];
	}
	fprintf(stderr, "fr_bench_recv: ready\n");

	if (subscribe) {
		if (handshake()) return 2;
		fprintf(stderr, "fr_bench_recv: subscribed\n");
	}

	uint64_t received = 0, received_total = 0, warm = 0, other = 0, control = 0, corrupt = 0, dups = 0, distinct = 0;
	uint64_t seq_gaps = 0, out_of_window = 0, samples_dropped = 0, n_samples = 0;
	uint64_t min_pub = UINT64_MAX, max_pub = 0, seq_base = UINT64_MAX;
	uint64_t sum_delay = 0, jitter_sum = 0, prev_delay = 0;
	int have_prev_delay = 0;
	uint32_t first_seq = 0, last_seq = 0;
	int have_seq = 0;
	uint64_t first_rx = 0, warm_end = 0;
	const uint64_t start = now_ns();
	const uint64_t end = start + (uint64_t)(duration * 1e9);
	uint64_t next_feedback = start;
	const int flags = block ? MSG_WAITFORONE : MSG_DONTWAIT;
	const struct timespec drain_pause = { .tv_sec = 0, .tv_nsec = drain_ms * 1000000L };

	while (!g_stop) {
		for (int i = 0; i < BATCH; i++)
			msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
		int n = recvmmsg(g_fd, msgs, BATCH, flags, NULL);
		uint64_t rx = now_ns();
		if (n > 0) {
			for (int i = 0; i < n; i++) {
				const uint8_t *p = iovs[i].iov_base;
				size_t len = msgs[i].msg_len;
				if (len < HDR) { other++; continue; }
				if ((p[0] & 0xF8) != 0x18) {
					if (p[0] == 0x10) {
						control++;
						take_reply(p, len);
					} else
						other++;
					continue;
				}
				if (channel >= 0 && get16(p + 2) != (uint16_t)channel) { other++; continue; }
				received_total++;
				uint32_t hseq = get32(p + 4);
				if (have_seq && hseq != last_seq + 1) seq_gaps++;
				if (!have_seq) { first_seq = hseq; have_seq = 1; }
				last_seq = hseq;
				if (!first_rx) { first_rx = rx; warm_end = rx + (uint64_t)(warmup * 1e9); }
				if (rx < warm_end) { warm++; continue; }
				if (verify && (len < HDR + 16 || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || !test_payload_ok(p + HDR, len - HDR)))
					corrupt++;
				received++;
				uint64_t ts = get64(p + 8);
				uint64_t d = rx > ts ? rx - ts : 0;
				if (n_samples < (uint64_t)max_samples) delays[n_samples++] = d;
				else samples_dropped++;
				sum_delay += d;
				if (have_prev_delay) jitter_sum += d > prev_delay ? d - prev_delay : prev_delay - d;
				prev_delay = d;
				have_prev_delay = 1;
				if (len >= HDR + 8) {
					uint64_t pub = get64(p + HDR);
					if (seq_base == UINT64_MAX) seq_base = pub > (1u << 20) ? pub - (1u << 20) : 0;
					uint64_t k = pub - seq_base;
					if (pub < seq_base || k >= ((uint64_t)1 << SEQ_WINDOW_BITS)) { out_of_window++; }
					else if (seen[k >> 3] & (1u << (k & 7))) dups++;
					else {
						seen[k >> 3] |= (uint8_t)(1u << (k & 7));
						distinct++;
						if (pub < min_pub) min_pub = pub;
						if (pub > max_pub) max_pub = pub;
					}
				}
			}
			if (expect > 0 && received_total >= (uint64_t)expect) break;
		}
		if (rx >= end) break;
		/* A short batch emptied the socket: let the next packets gather. */
		if (drain_ms && n < BATCH)
			nanosleep(&drain_pause, NULL);
		if (subscribe && rx >= next_feedback) {
			send_feedback(have_seq ? last_seq + 1 : 0);
			next_feedback = rx + 100000000ull;
		}
	}
	const double seconds = (now_ns() - start) / 1e9;
	if (subscribe) send_unsubscribe();

	if (samples_path) {
		FILE *f = fopen(samples_path, "wb");
		if (!f) { perror(samples_path); }
		else {
			/* x86-64 and arm64 are little-endian: the array is written as is. */
			if (fwrite(delays, sizeof(uint64_t), n_samples, f) != n_samples) perror("write samples");
			fclose(f);
		}
	}
	qsort(delays, n_samples, sizeof(uint64_t), cmp_u64);
	uint64_t lost = distinct ? (max_pub - min_pub + 1) - distinct : 0;
	printf("{\"received\":%llu,\"lost\":%llu,\"duplicates\":%llu,"
	       "\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f,\"jitter_us\":%.3f,"
	       "\"min_us\":%.3f,\"received_total\":%llu,\"warmup\":%llu,\"other\":%llu,\"control\":%llu,\"corrupt\":%llu,"
	       "\"seq_gaps\":%llu,\"first_seq\":%u,\"last_seq\":%u,\"out_of_window\":%llu,\"samples_dropped\":%llu,\"seconds\":%.6f}\n",
	       (unsigned long long)received, (unsigned long long)lost, (unsigned long long)dups,
	       pct_us(delays, n_samples, 0.50), pct_us(delays, n_samples, 0.90), pct_us(delays, n_samples, 0.99),
	       pct_us(delays, n_samples, 0.999), n_samples ? delays[n_samples - 1] / 1000.0 : 0.0,
	       received ? (double)sum_delay / received / 1000.0 : 0.0,
	       received > 1 ? (double)jitter_sum / (received - 1) / 1000.0 : 0.0,
	       n_samples ? delays[0] / 1000.0 : 0.0,
	       (unsigned long long)received_total, (unsigned long long)warm, (unsigned long long)other,
	       (unsigned long long)control, (unsigned long long)corrupt, (unsigned long long)seq_gaps, first_seq, last_seq,
	       (unsigned long long)out_of_window, (unsigned long long)samples_dropped, seconds);
	fflush(stdout);
	close(g_fd);
	return 0;
}
