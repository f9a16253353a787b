/* Plain fds: close, dup, eventfd. */
#include "common.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

napi_value vfio_js_close(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  /* Linux releases the fd even when close reports EINTR, so never retry. */
  if (close(fd) < 0 && errno != EINTR) FAIL("close");
  return NULL;
}

napi_value vfio_js_dup(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  int r;
  if ((r = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) FAIL("fcntl");
  return vfio_make_int(env, r);
}

/* eventfd(initval, flags): flags bit 0 = nonblocking, bit 1 = semaphore; always CLOEXEC. */
napi_value vfio_js_eventfd(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t initval, flags;
  if (vfio_get_int(env, argv[0], "initval", 0, UINT32_MAX, &initval) ||
      vfio_get_int(env, argv[1], "flags", 0, 3, &flags))
    return NULL;
  int f = EFD_CLOEXEC | ((flags & 1) ? EFD_NONBLOCK : 0) | ((flags & 2) ? EFD_SEMAPHORE : 0);
  int fd = eventfd((unsigned)initval, f);
  if (fd < 0) FAIL("eventfd");
  return vfio_make_int(env, fd);
}

napi_value vfio_js_eventfd_read(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  uint64_t v;
  ssize_t r;
  napi_value out;
  if ((r = NOINTR(read(fd, &v, sizeof v))) < 0 && WOULD_BLOCK) return vfio_make_null(env);
  if (r < 0) FAIL("read");
  if (r != sizeof v)
    return vfio_throw_errno_msg(env, EINVAL, "read", "read: not an eventfd (short read)"), NULL;
  NAPI(napi_create_bigint_uint64(env, v, &out));
  return out;
}

/* true when added; false when it would block (the counter would overflow). */
napi_value vfio_js_eventfd_write(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  uint64_t v;
  ssize_t r;
  if (vfio_get_u64(env, argv[1], "value", UINT64_MAX - 1, &v)) return NULL;
  if ((r = NOINTR(write(fd, &v, sizeof v))) < 0 && WOULD_BLOCK) return vfio_make_bool(env, false);
  if (r < 0) FAIL("write");
  return vfio_make_bool(env, true);
}
