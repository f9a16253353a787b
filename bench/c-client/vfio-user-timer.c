/*
 * vfio-user-timer: times round trips against any vfio-user server with a client that
 * adds as little as possible of its own, a blocking C loop. `npm run bench` builds it
 * with the system C compiler (cases-c-client.ts) to measure our server, and a peer
 * given by BENCH_PEER_SOCKET, without the Node client in the figures.
 *
 *   vfio-user-timer SOCKET ITERATIONS
 *
 * Negotiates version 0.1, then times, one request at a time:
 *   - REGION_READ of 4 bytes at offset 0 of the config region (index 7);
 *   - DMA_MAP (no fd, 4 KiB, read/write) followed by DMA_UNMAP of the same window.
 * Each is warmed up with ITERATIONS requests first. Prints one JSON line per
 * operation: {"op":..., "n":..., "p50Us":..., "p99Us":...}. Exits 1 with a message on
 * stderr if the server answers anything with an error.
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

static void config_read(void) {
  const struct region_access req = {0, CONFIG_REGION, 4};
  if (call(CMD_REGION_READ, &req, sizeof req) != sizeof req + 4) {
    errno = 0;
    die("REGION_READ reply has the wrong size");
  }
}

static void dma_pair(void) {
  const struct dma_map map = {sizeof map, 3, 0, 0x100000, 4096};
  const struct dma_unmap unmap = {sizeof unmap, 0, 0x100000, 4096};
  call(CMD_DMA_MAP, &map, sizeof map);
  call(CMD_DMA_UNMAP, &unmap, sizeof unmap);
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

int main(int argc, char **argv) {
  if (argc != 3 || atoi(argv[2]) <= 0) {
    fprintf(stderr, "usage: vfio-user-timer SOCKET ITERATIONS\n");
    return 2;
  }
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
    if (errno != ECONNREFUSED || tries >= 500) die(argv[1]);
    const struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }

  static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
  uint8_t version[4 + sizeof caps] = {0, 0, 1, 0}; /* major 0, minor 1 (little-endian) */
  memcpy(version + 4, caps, sizeof caps);          /* with its NUL */
  call(CMD_VERSION, version, sizeof version);

  double *samples = malloc((size_t)n * sizeof *samples);
  if (!samples) die("malloc");
  time_op("config-read32", config_read, n, samples);
  time_op("dma-map-unmap", dma_pair, n / 2 > 0 ? n / 2 : 1, samples);
  free(samples);
  close(sock);
  return 0;
}
