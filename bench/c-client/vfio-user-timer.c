/*
 * vfio-user-timer: times round trips against any vfio-user server with a client that
 * adds as little as possible of its own, a blocking C loop. `npm run bench` builds it
 * with the system C compiler (cases-c-client.ts) to measure our server, and a peer
 * given by BENCH_PEER_SOCKET, without the Node client in the figures.
 *
 *   vfio-user-timer SOCKET ITERATIONS [posted[=REGION:OFFSET:plain]]
 *   vfio-user-timer --echo SOCKET ITERATIONS
 *   vfio-user-timer --pingpong ITERATIONS
 *
 * Negotiates version 0.1, then times, one request at a time:
 *   - REGION_READ of 4 bytes at offset 0 of the config region (index 7);
 *   - DMA_MAP (no fd, 4 KiB, read/write) followed by DMA_UNMAP of the same window;
 *   - with "posted": a 4-byte REGION_READ of BAR0 offset 4 (edu's liveness register),
 *     then ITERATIONS 4-byte REGION_WRITEs with NO_REPLY there back to back, fenced by
 *     one REGION_READ (the server handles commands in order), reported as writes per
 *     second. The fence expects edu's reply, the bitwise inverse of the last value
 *     written. With "posted=REGION:OFFSET:plain" the read and the writes go to that
 *     region and offset instead, and the fence expects the value itself: for a peer
 *     with a plain 4-byte memory register (libvfio-user's samples/server has one at
 *     BAR1 offset 0: "posted=1:0:plain").
 * Each is warmed up with ITERATIONS requests first. Prints one JSON line per
 * operation: {"op":..., "n":..., "p50Us":..., "p99Us":...}. Exits 1 with a message on
 * stderr if the server answers anything with an error.
 *
 * The floors under every round trip, timed the same way with 16-byte messages:
 *   --echo: against a server that echoes bytes (bench/echo-server.ts: a bare Node
 *           process on our sockets and event-loop integration);
 *   --pingpong: against a forked C child echoing over a socketpair (blocking read and
 *           write on both ends): the machine's own wake-up floor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
  CMD_VERSION = 1,
  CMD_DMA_MAP = 2,
  CMD_DMA_UNMAP = 3,
  CMD_REGION_READ = 9,
  CMD_REGION_WRITE = 10,
  F_NO_REPLY = 0x10,
  F_TYPE_REPLY = 0x1,
  F_ERROR = 0x20,
  CONFIG_REGION = 7,
};

struct header {
  uint16_t id;
  uint16_t command;
  uint32_t size;
  uint32_t flags;
  uint32_t error;
} __attribute__((packed));

static int sock;
static uint16_t next_id;
/* Where posted writes go, and whether the register reads back the value or its inverse. */
static uint32_t posted_region = 0, posted_offset = 4;
static int posted_plain = 0;
static uint8_t io[65536];

static void die(const char *what) {
  fprintf(stderr, "vfio-user-timer: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}

static void read_exactly(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = read(sock, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die(r == 0 ? "server closed the connection" : "read");
    p += r;
    n -= (size_t)r;
  }
}

/* One request, one reply; the reply body is left in `io`. Returns its length. */
static uint32_t call(uint16_t command, const void *body, uint32_t len) {
  struct header h = {next_id++, command, (uint32_t)sizeof h + len, 0, 0};
  if (len > sizeof io - sizeof h) die("request too large");
  memcpy(io, &h, sizeof h);
  memcpy(io + sizeof h, body, len);
  size_t total = sizeof h + len;
  if (write(sock, io, total) != (ssize_t)total) die("write");
  struct header r;
  read_exactly(&r, sizeof r);
  if (r.size < sizeof r || r.size - sizeof r > sizeof io) {
    errno = 0;
    die("reply size out of range");
  }
  uint32_t body_len = r.size - (uint32_t)sizeof r;
  read_exactly(io, body_len);
  if (r.id != h.id || r.command != command || (r.flags & 0xf) != F_TYPE_REPLY) {
    errno = 0;
    die("reply does not match the request");
  }
  if (r.flags & F_ERROR) {
    fprintf(stderr, "vfio-user-timer: command %u failed: %s\n", command, strerror((int)r.error));
    exit(1);
  }
  return body_len;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *op, double *samples, int n) {
  qsort(samples, (size_t)n, sizeof *samples, by_value);
  printf("{\"op\":\"%s\",\"n\":%d,\"p50Us\":%.2f,\"p99Us\":%.2f}\n", op, n, samples[n / 2],
         samples[(int)((long)n * 99 / 100)]);
}

struct region_access {
  uint64_t offset;
  uint32_t region;
  uint32_t count;
} __attribute__((packed));

struct dma_map {
  uint32_t argsz, flags;
  uint64_t offset, address, size;
} __attribute__((packed));

struct dma_unmap {
  uint32_t argsz, flags;
  uint64_t address, size;
} __attribute__((packed));

static void read32(uint32_t region, uint64_t offset) {
  const struct region_access req = {offset, region, 4};
  if (call(CMD_REGION_READ, &req, sizeof req) != sizeof req + 4) {
    errno = 0;
    die("REGION_READ reply has the wrong size");
  }
}

static void config_read(void) { read32(CONFIG_REGION, 0); }

static void bar_read(void) { read32(posted_region, posted_offset); }

static void dma_pair(void) {
  const struct dma_map map = {sizeof map, 3, 0, 0x100000, 4096};
  const struct dma_unmap unmap = {sizeof unmap, 0, 0x100000, 4096};
  call(CMD_DMA_MAP, &map, sizeof map);
  call(CMD_DMA_UNMAP, &unmap, sizeof unmap);
}

/* Posted writes: no reply each, one fenced read at the end. */
static void posted_writes(int n, int report) {
  struct {
    struct header h;
    struct region_access a;
    uint32_t v;
  } __attribute__((packed)) w = {
      {0, CMD_REGION_WRITE, sizeof w, F_NO_REPLY, 0}, {posted_offset, posted_region, 4}, 0};
  const struct region_access fence = {posted_offset, posted_region, 4};
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    w.h.id = next_id++;
    w.v = (uint32_t)i;
    if (write(sock, &w, sizeof w) != (ssize_t)sizeof w) die("write");
  }
  call(CMD_REGION_READ, &fence, sizeof fence);
  uint32_t last;
  memcpy(&last, io + sizeof fence, sizeof last);
  uint32_t want = (uint32_t)(n - 1);
  if (last != (posted_plain ? want : ~want)) {
    errno = 0;
    die("the fence read does not see the last posted write");
  }
  double us = now_us() - t0;
  if (report) printf("{\"op\":\"posted-write32\",\"n\":%d,\"opsPerSec\":%.0f}\n", n, n * 1e6 / us);
}

/* 16-byte round trips on an already connected socket whose far end echoes. */
static void echo_op(void) {
  uint8_t b[16] = {1};
  if (write(sock, b, sizeof b) != (ssize_t)sizeof b) die("write");
  read_exactly(b, sizeof b);
}

static void time_op(const char *name, void (*op)(void), int n, double *samples) {
  for (int i = 0; i < n; i++) op();
  for (int i = 0; i < n; i++) {
    double t0 = now_us();
    op();
    samples[i] = now_us() - t0;
  }
  report(name, samples, n);
}

static int usage(void) {
  fprintf(stderr,
          "usage: vfio-user-timer SOCKET ITERATIONS [posted[=REGION:OFFSET:plain]]\n"
          "       vfio-user-timer --echo SOCKET ITERATIONS\n"
          "       vfio-user-timer --pingpong ITERATIONS\n");
  return 2;
}

/* The C floor: a forked child echoes 16-byte messages over a socketpair. */
static int pingpong(int n) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    uint8_t b[16];
    close(sv[0]);
    for (;;) {
      ssize_t r = read(sv[1], b, sizeof b);
      if (r <= 0) _exit(0);
      if (write(sv[1], b, (size_t)r) != r) _exit(1);
    }
  }
  close(sv[1]);
  sock = sv[0];
  double *samples = malloc((size_t)n * sizeof *samples);
  if (!samples) die("malloc");
  time_op("pingpong", echo_op, n, samples);
  free(samples);
  close(sock);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 && argv[1][0] == '-' ? argv[1] : "";
  if (strcmp(mode, "--pingpong") == 0) {
    if (argc != 3 || atoi(argv[2]) <= 0) return usage();
    return pingpong(atoi(argv[2]));
  }
  int echo = strcmp(mode, "--echo") == 0;
  if (echo) {
    argv++;
    argc--;
  }
  int posted = argc == 4 && strncmp(argv[3], "posted", 6) == 0;
  if (posted && argv[3][6] != '\0') {
    char tail[8] = "";
    if (sscanf(argv[3], "posted=%u:%u:%7s", &posted_region, &posted_offset, tail) != 3 ||
        strcmp(tail, "plain") != 0)
      return usage();
    posted_plain = 1;
  }
  if ((argc != 3 && !posted) || (echo && posted) || atoi(argv[2]) <= 0) return usage();
  int n = atoi(argv[2]);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    die(argv[1]);
  }
  strcpy(addr.sun_path, argv[1]);
  sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("socket");
  /* A server just started may have bound its socket file but not be listening yet. */
  for (int tries = 0; connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0; tries++) {
    if ((errno != ECONNREFUSED && errno != ENOENT) || tries >= 500) die(argv[1]);
    const struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }

  if (echo) {
    double *samples = malloc((size_t)n * sizeof *samples);
    if (!samples) die("malloc");
    time_op("echo", echo_op, n, samples);
    free(samples);
    close(sock);
    return 0;
  }

  static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
  uint8_t version[4 + sizeof caps] = {0, 0, 1, 0}; /* major 0, minor 1 (little-endian) */
  memcpy(version + 4, caps, sizeof caps);          /* with its NUL */
  call(CMD_VERSION, version, sizeof version);

  double *samples = malloc((size_t)n * sizeof *samples);
  if (!samples) die("malloc");
  time_op("config-read32", config_read, n, samples);
  time_op("dma-map-unmap", dma_pair, n / 2 > 0 ? n / 2 : 1, samples);
  if (posted) {
    time_op("bar-read32", bar_read, n, samples);
    posted_writes(n, 0); /* warm-up */
    posted_writes(n * 4, 1);
  }
  free(samples);
  close(sock);
  return 0;
}
