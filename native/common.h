/*
 * Shared by the vfio_native sources: per-instance state, the error and argument
 * helpers every binding uses, and the bindings that addon.c registers.
 * Helpers return 0 on success or -1 with a JS exception pending; a binding then
 * returns NULL (undefined) and the pending exception reaches the caller.
 */
#ifndef VFIO_NATIVE_COMMON_H
#define VFIO_NATIVE_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cross-file helpers stay private to the .node, as they were when they were static. */
#pragma GCC visibility push(hidden)

typedef struct {
  napi_ref error_factory;
} addon_state;

/* ---------- errors (addon.c) ---------- */

/* Throws the registered factory's error for err; message NULL means "syscall: strerror (CODE)". */
void vfio_throw_errno_msg(napi_env env, int err, const char *syscall, const char *message);
void vfio_throw_errno(napi_env env, int err, const char *syscall);
/* A failed napi_* call outside argument checks: surface it rather than crash. */
void vfio_throw_napi(napi_env env);

#define NAPI(call) \
  do { if ((call) != napi_ok) return vfio_throw_napi(env), NULL; } while (0)

/* Retries a syscall interrupted by a signal (never used for close). */
#define NOINTR(expr) ({ __typeof__(expr) r_; do r_ = (expr); while (r_ < 0 && errno == EINTR); r_; })
#define FAIL(syscall) return vfio_throw_errno(env, errno, syscall), NULL
#define WOULD_BLOCK (errno == EAGAIN || errno == EWOULDBLOCK)

#define ARGS(n)                                                                                    \
  size_t argc = (n);                                                                               \
  napi_value argv[(n) > 0 ? (n) : 1];                                                              \
  NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                                      \
  for (size_t i_ = argc; i_ < (n); i_++) napi_get_undefined(env, &argv[i_])

/* Most calls take an fd first. */
#define FD_ARGS(n)                                                                                 \
  ARGS(n);                                                                                         \
  int fd;                                                                                          \
  if (vfio_get_fd(env, argv[0], &fd)) return NULL

/* ---------- argument helpers (addon.c) ---------- */

/* Throws TypeError (range=0) or RangeError (range=1) with a formatted message; returns -1. */
int vfio_arg_error(napi_env env, int range, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vfio_get_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int64_t *out);
int vfio_get_fd(napi_env env, napi_value v, int *fd);
/* A non-negative 64-bit quantity given as bigint or safe-integer number, at most max. */
int vfio_get_u64(napi_env env, napi_value v, const char *what, uint64_t max, uint64_t *out);
/* The bytes of a Uint8Array (or Uint8ClampedArray), without copying. */
int vfio_get_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len);

napi_value vfio_make_int(napi_env env, int64_t x);
napi_value vfio_make_null(napi_env env);
napi_value vfio_make_bool(napi_env env, bool b);

/* ---------- bindings, registered by addon.c ---------- */

#define VFIO_BINDING(name) napi_value vfio_js_##name(napi_env env, napi_callback_info info)

/* socket.c */
VFIO_BINDING(socket);
VFIO_BINDING(socketpair);
VFIO_BINDING(bind);
VFIO_BINDING(listen);
VFIO_BINDING(accept);
VFIO_BINDING(connect);
VFIO_BINDING(peercred);
VFIO_BINDING(sendmsg);
VFIO_BINDING(recvmsg);

/* fd.c */
VFIO_BINDING(close);
VFIO_BINDING(dup);
VFIO_BINDING(eventfd);
VFIO_BINDING(eventfd_read);
VFIO_BINDING(eventfd_write);

/* memory.c */
VFIO_BINDING(memfd_create);
VFIO_BINDING(ftruncate);
VFIO_BINDING(fstat_size);
VFIO_BINDING(memfd_seals);
VFIO_BINDING(memlock_limit);
VFIO_BINDING(mmap);
VFIO_BINDING(munmap);

/* ioctl.c */
VFIO_BINDING(ioctl);
VFIO_BINDING(pread);
VFIO_BINDING(pwrite);
VFIO_BINDING(address_of);

/* guarded-copy.c */
VFIO_BINDING(copy_guarded);

/* poll.c */
VFIO_BINDING(poll_new);
VFIO_BINDING(poll_start);
VFIO_BINDING(poll_ref);
VFIO_BINDING(poll_close);

/* spin.c */
VFIO_BINDING(spin_until_readable);

#pragma GCC visibility pop

#endif
