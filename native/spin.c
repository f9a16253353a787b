/*
 * Busy-waiting for readability: the user-space analogue of halt-polling. A process
 * that goes back to epoll_wait after answering pays a full wake-up (often a halted
 * CPU's) for the next message; spinning a few microseconds first catches a peer that
 * answers quickly. Mechanism only: when and how long to spin is decided in src/.
 */
#include "common.h"

#include <poll.h>
#include <sched.h>
#include <time.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * spinUntilReadable(fd, usec) -> bool: polls fd with a zero timeout until it is readable
 * (or hung up / in error, which a read then reports) or usec microseconds have passed.
 * Never blocks on the fd (it yields the CPU between checks, see below); always checks
 * at least once.
 */
napi_value vfio_js_spin_until_readable(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int64_t usec;
  if (vfio_get_int(env, argv[1], "usec", 0, 1000000, &usec)) return NULL;
  const int64_t deadline = now_ns() + usec * 1000;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  for (;;) {
    p.revents = 0;
    int r = poll(&p, 1, 0);
    if (r > 0) return vfio_make_bool(env, true);
    if (r < 0 && errno != EINTR) FAIL("poll");
    if (now_ns() >= deadline) return vfio_make_bool(env, false);
    /* On a CPU shared with the peer (or anything else runnable), spinning would keep
     * the peer from producing the very message we wait for: give it the CPU. */
    sched_yield();
  }
}
