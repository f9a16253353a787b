/*
 * vfio_native: the few system calls Node cannot make for vfio-ts.
 * Mechanism only: every policy decision (paths, modes, retries, ownership)
 * lives in src/sys. Errors become JS errors carrying code/errno/syscall,
 * built by a factory that src/sys registers so they are SysErrors directly.
 */
#include "common.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- errors ---------- */

static const char *errno_name(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(e);
  if (n) return n;
#endif
#define N(x) case x: return #x;
  switch (e) {
    N(EPERM) N(ENOENT) N(EBADF) N(EAGAIN) N(ENOMEM) N(EACCES) N(EEXIST) N(EINVAL) N(EMFILE)
    N(ENFILE) N(EPIPE) N(ENAMETOOLONG) N(EPROTO) N(ENOTSOCK) N(EADDRINUSE) N(ECONNABORTED)
    N(ECONNRESET) N(ENOTCONN) N(ECONNREFUSED) N(ENOBUFS) N(EFAULT)
  }
#undef N
  return NULL;
}

void vfio_throw_errno_msg(napi_env env, int err, const char *syscall, const char *message) {
  char codebuf[16];
  const char *code = errno_name(err);
  if (!code) {
    snprintf(codebuf, sizeof codebuf, "E%d", err);
    code = codebuf;
  }
  char msgbuf[256];
  if (!message) {
    snprintf(msgbuf, sizeof msgbuf, "%s: %s (%s)", syscall, strerror(err), code);
    message = msgbuf;
  }
  napi_value argv[4], error = NULL, fn, undef;
  napi_create_int32(env, err, &argv[0]);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &argv[1]);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &argv[2]);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &argv[3]);
  addon_state *st = NULL;
  napi_get_instance_data(env, (void **)&st);
  if (st && st->error_factory &&
      napi_get_reference_value(env, st->error_factory, &fn) == napi_ok && fn) {
    napi_get_undefined(env, &undef);
    if (napi_call_function(env, undef, fn, 4, argv, &error) != napi_ok) return; /* it threw */
  }
  if (!error) {
    napi_create_error(env, argv[1], argv[3], &error);
    napi_set_named_property(env, error, "errno", argv[0]);
    napi_set_named_property(env, error, "code", argv[1]);
    napi_set_named_property(env, error, "syscall", argv[2]);
  }
  napi_throw(env, error);
}

void vfio_throw_errno(napi_env env, int err, const char *syscall) {
  vfio_throw_errno_msg(env, err, syscall, NULL);
}

/* A failed napi_* call outside argument checks: surface it rather than crash. */
void vfio_throw_napi(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, "EIO", info && info->error_message ? info->error_message : "N-API call failed");
}

/* ---------- argument helpers: return 0 on success, -1 with an exception pending ---------- */

/* Throws TypeError (range=0) or RangeError (range=1) with a formatted message; returns -1. */
int vfio_arg_error(napi_env env, int range, const char *fmt, ...) {
  char m[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  if (range) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", m);
  else napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
  return -1;
}

int vfio_get_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number)
    return vfio_arg_error(env, 0, "%s must be a number", what);
  napi_get_value_double(env, v, &d);
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
    return vfio_arg_error(env, 1, "%s must be an integer in [%lld, %lld]", what, (long long)lo,
                          (long long)hi);
  *out = (int64_t)d;
  return 0;
}

int vfio_get_fd(napi_env env, napi_value v, int *fd) {
  int64_t x = 0;
  if (vfio_get_int(env, v, "fd", 0, INT_MAX, &x)) return -1;
  *fd = (int)x;
  return 0;
}

/* A non-negative 64-bit quantity given as bigint or safe-integer number. */
int vfio_get_u64(napi_env env, napi_value v, const char *what, uint64_t max, uint64_t *out) {
  napi_valuetype t;
  bool lossless = false;
  int64_t sx = 0;
  napi_typeof(env, v, &t);
  if (t != napi_bigint) {
    if (vfio_get_int(env, v, what, 0, (int64_t)9007199254740991LL, &sx)) return -1;
    *out = (uint64_t)sx;
  } else {
    napi_get_value_bigint_int64(env, v, &sx, &lossless);
    if (lossless && sx < 0) return vfio_arg_error(env, 1, "%s must not be negative", what);
    napi_get_value_bigint_uint64(env, v, out, &lossless);
    if (!lossless) return vfio_arg_error(env, 1, "%s is out of range", what);
  }
  return *out > max ? vfio_arg_error(env, 1, "%s is out of range", what) : 0;
}

int vfio_get_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL);
  if (!is_ta || (type != napi_uint8_array && type != napi_uint8_clamped_array))
    return vfio_arg_error(env, 0, "%s must be a Uint8Array", what);
  return 0;
}

napi_value vfio_make_int(napi_env env, int64_t x) {
  napi_value v;
  return napi_create_int64(env, x, &v) == napi_ok ? v : NULL;
}

napi_value vfio_make_null(napi_env env) {
  napi_value v;
  return napi_get_null(env, &v) == napi_ok ? v : NULL;
}

napi_value vfio_make_bool(napi_env env, bool b) {
  napi_value v;
  return napi_get_boolean(env, b, &v) == napi_ok ? v : NULL;
}

/* ---------- registration ---------- */

static void state_finalize(napi_env env, void *data, void *hint) {
  addon_state *st = data;
  if (st->error_factory) napi_delete_reference(env, st->error_factory);
  free(st);
}

/* setErrorFactory((errno, code, syscall, message) => Error) */
static napi_value js_set_error_factory(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_valuetype t;
  addon_state *st = NULL;
  napi_typeof(env, argv[0], &t);
  if (t != napi_function) return vfio_arg_error(env, 0, "factory must be a function"), NULL;
  NAPI(napi_get_instance_data(env, (void **)&st));
  if (st->error_factory) napi_delete_reference(env, st->error_factory);
  NAPI(napi_create_reference(env, argv[0], 1, &st->error_factory));
  return NULL;
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

NAPI_MODULE_INIT() {
  addon_state *st = calloc(1, sizeof *st);
  if (!st || napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      FN("setErrorFactory", js_set_error_factory),
      /* socket.c */
      FN("socket", vfio_js_socket), FN("socketpair", vfio_js_socketpair), FN("bind", vfio_js_bind),
      FN("listen", vfio_js_listen), FN("accept", vfio_js_accept), FN("connect", vfio_js_connect),
      FN("peerCred", vfio_js_peercred), FN("sendmsg", vfio_js_sendmsg), FN("recvmsg", vfio_js_recvmsg),
      /* fd.c */
      FN("close", vfio_js_close), FN("dup", vfio_js_dup), FN("eventfd", vfio_js_eventfd),
      FN("eventfdRead", vfio_js_eventfd_read), FN("eventfdWrite", vfio_js_eventfd_write),
      /* memory.c */
      FN("memfdCreate", vfio_js_memfd_create), FN("ftruncate", vfio_js_ftruncate),
      FN("fstatSize", vfio_js_fstat_size), FN("memfdSeals", vfio_js_memfd_seals),
      FN("memlockLimit", vfio_js_memlock_limit), FN("mmap", vfio_js_mmap), FN("munmap", vfio_js_munmap),
      /* ioctl.c */
      FN("ioctl", vfio_js_ioctl), FN("pread", vfio_js_pread), FN("pwrite", vfio_js_pwrite),
      FN("addressOf", vfio_js_address_of),
      /* guarded-copy.c */
      FN("copyGuarded", vfio_js_copy_guarded),
      /* poll.c */
      FN("pollNew", vfio_js_poll_new), FN("pollStart", vfio_js_poll_start),
      FN("pollRef", vfio_js_poll_ref), FN("pollClose", vfio_js_poll_close),
      /* spin.c */
      FN("spinUntilReadable", vfio_js_spin_until_readable),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
