/*
 * vfio_native: the few system calls Node cannot make for vfio-ts.
 * Mechanism only: every policy decision (paths, modes, retries, ownership)
 * lives in src/sys. Errors become JS errors carrying code/errno/syscall,
 * built by a factory that src/sys registers so they are SysErrors directly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 253 /* SCM_MAX_FD: the kernel refuses more per message */
#define STACK_IOV 16

typedef struct {
  napi_ref error_factory;
} addon_state;

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
    N(ECONNRESET) N(ENOTCONN) N(ECONNREFUSED) N(ENOBUFS)
  }
#undef N
  return NULL;
}

static void throw_errno_msg(napi_env env, int err, const char *syscall, const char *message) {
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

static void throw_errno(napi_env env, int err, const char *syscall) {
  throw_errno_msg(env, err, syscall, NULL);
}

/* A failed napi_* call outside argument checks: surface it rather than crash. */
static void throw_napi(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, "EIO", info && info->error_message ? info->error_message : "N-API call failed");
}

#define NAPI(call) \
  do { if ((call) != napi_ok) return throw_napi(env), NULL; } while (0)

/* Retries a syscall interrupted by a signal (never used for close). */
#define NOINTR(expr) ({ __typeof__(expr) r_; do r_ = (expr); while (r_ < 0 && errno == EINTR); r_; })
#define FAIL(syscall) return throw_errno(env, errno, syscall), NULL
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
  if (get_fd(env, argv[0], &fd)) return NULL

/* ---------- argument helpers: return 0 on success, -1 with an exception pending ---------- */

/* Throws TypeError (range=0) or RangeError (range=1) with a formatted message; returns -1. */
static int arg_error(napi_env env, int range, const char *fmt, ...) {
  char m[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  if (range) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", m);
  else napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
  return -1;
}

static int get_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return arg_error(env, 0, "%s must be a number", what);
  napi_get_value_double(env, v, &d);
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
    return arg_error(env, 1, "%s must be an integer in [%lld, %lld]", what, (long long)lo, (long long)hi);
  *out = (int64_t)d;
  return 0;
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  int64_t x;
  if (get_int(env, v, "fd", 0, INT_MAX, &x)) return -1;
  *fd = (int)x;
  return 0;
}

/* A non-negative 64-bit quantity given as bigint or safe-integer number. */
static int get_u64(napi_env env, napi_value v, const char *what, uint64_t max, uint64_t *out) {
  napi_valuetype t;
  bool lossless = false;
  int64_t sx = 0;
  napi_typeof(env, v, &t);
  if (t != napi_bigint) {
    if (get_int(env, v, what, 0, (int64_t)9007199254740991LL, &sx)) return -1;
    *out = (uint64_t)sx;
  } else {
    napi_get_value_bigint_int64(env, v, &sx, &lossless);
    if (lossless && sx < 0) return arg_error(env, 1, "%s must not be negative", what);
    napi_get_value_bigint_uint64(env, v, out, &lossless);
    if (!lossless) return arg_error(env, 1, "%s is out of range", what);
  }
  return *out > max ? arg_error(env, 1, "%s is out of range", what) : 0;
}

static int get_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL);
  if (!is_ta || (type != napi_uint8_array && type != napi_uint8_clamped_array))
    return arg_error(env, 0, "%s must be a Uint8Array", what);
  return 0;
}

static int get_path(napi_env env, napi_value v, const char *syscall, struct sockaddr_un *sa) {
  size_t len = 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return arg_error(env, 0, "path must be a string");
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len == 0) return arg_error(env, 0, "path must not be empty");
  if (len >= sizeof sa->sun_path) return throw_errno(env, ENAMETOOLONG, syscall), -1;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  napi_get_value_string_utf8(env, v, sa->sun_path, sizeof sa->sun_path, &len);
  if (strlen(sa->sun_path) != len) return arg_error(env, 0, "path must not contain NUL bytes");
  return 0;
}

static napi_value make_int(napi_env env, int64_t x) {
  napi_value v;
  return napi_create_int64(env, x, &v) == napi_ok ? v : NULL;
}

static napi_value make_int_array(napi_env env, int n, const int64_t *xs) {
  napi_value arr;
  NAPI(napi_create_array_with_length(env, n, &arr));
  for (int i = 0; i < n; i++) napi_set_element(env, arr, i, make_int(env, xs[i]));
  return arr;
}

static napi_value make_null(napi_env env) {
  napi_value v;
  return napi_get_null(env, &v) == napi_ok ? v : NULL;
}

static napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  return napi_get_boolean(env, b, &v) == napi_ok ? v : NULL;
}

/* ---------- sockets ---------- */

static napi_value js_socket(napi_env env, napi_callback_info info) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) FAIL("socket");
  return make_int(env, fd);
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) FAIL("socketpair");
  return make_int_array(env, 2, (int64_t[]){sv[0], sv[1]});
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  struct sockaddr_un sa;
  if (get_path(env, argv[1], "bind", &sa)) return NULL;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) FAIL("bind");
  return NULL;
}

static napi_value js_listen(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int64_t backlog;
  if (get_int(env, argv[1], "backlog", 0, 65535, &backlog)) return NULL;
  if (listen(fd, (int)backlog) < 0) FAIL("listen");
  return NULL;
}

/* A pending connection's fd, or null when none is pending. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  int c;
  if ((c = NOINTR(accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))) >= 0) return make_int(env, c);
  if (WOULD_BLOCK) return make_null(env);
  FAIL("accept4");
}

/* true when connected; false when it would block (AF_UNIX: the listener's backlog is full). */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  struct sockaddr_un sa;
  if (get_path(env, argv[1], "connect", &sa)) return NULL;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return make_bool(env, true);
  if (errno == EAGAIN || errno == EINPROGRESS) return make_bool(env, false);
  FAIL("connect");
}

/* [pid, uid, gid] of the peer process at connect time. */
static napi_value js_peercred(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) FAIL("getsockopt");
  return make_int_array(env, 3, (int64_t[]){cred.pid, cred.uid, cred.gid});
}

typedef union {
  char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
  struct cmsghdr align;
} fd_control;

/* sendmsg(fd, chunks: Uint8Array[], fds: number[] | undefined) -> bytes sent, 0 if it would block. */
static napi_value js_sendmsg(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd, fds[MAX_FDS];
  uint32_t nchunks = 0, nfds = 0;
  bool is_array = false;
  napi_valuetype t;
  struct iovec iov_stack[STACK_IOV], *iov = iov_stack;
  fd_control ctrl;
  size_t total = 0;
  napi_value result = NULL;

  if (get_fd(env, argv[0], &fd)) return NULL;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return arg_error(env, 0, "chunks must be an array"), NULL;
  napi_get_array_length(env, argv[1], &nchunks);
  if (nchunks > IOV_MAX) return arg_error(env, 1, "too many chunks"), NULL;
  napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && t != napi_null) {
    napi_is_array(env, argv[2], &is_array);
    if (!is_array) return arg_error(env, 0, "fds must be an array"), NULL;
    napi_get_array_length(env, argv[2], &nfds);
    if (nfds > MAX_FDS) return arg_error(env, 1, "at most 253 fds per message"), NULL;
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value e;
      NAPI(napi_get_element(env, argv[2], i, &e));
      if (get_fd(env, e, &fds[i])) return NULL;
    }
  }
  if (nchunks > STACK_IOV && !(iov = malloc(nchunks * sizeof *iov))) return throw_errno(env, ENOMEM, "sendmsg"), NULL;
  for (uint32_t i = 0; i < nchunks; i++) {
    napi_value e;
    if (napi_get_element(env, argv[1], i, &e) != napi_ok) { throw_napi(env); goto out; }
    if (get_bytes(env, e, "each chunk", &iov[i].iov_base, &iov[i].iov_len)) goto out;
    total += iov[i].iov_len;
  }
  /* A stream socket carries ancillary data only together with data bytes. */
  if (nfds > 0 && total == 0 && arg_error(env, 1, "fds must travel with at least one byte")) goto out;
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = nchunks};
  if (nfds > 0) {
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  ssize_t r = NOINTR(sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT));
  if (r < 0 && !WOULD_BLOCK) throw_errno(env, errno, "sendmsg");
  else result = make_int(env, r < 0 ? 0 : r);
out:
  if (iov != iov_stack) free(iov);
  return result;
}

/*
 * recvmsg(fd, buf: Uint8Array, maxFds, fdsOut: Int32Array) -> bytes (0 = EOF), or -1 if it
 * would block. fdsOut[0] receives the fd count and fdsOut[1..] the fds, so the hot path
 * allocates nothing here.
 */
static napi_value js_recvmsg(napi_env env, napi_callback_info info) {
  FD_ARGS(4);
  int64_t max_fds;
  void *data, *outp;
  size_t len, outlen;
  bool is_ta = false;
  napi_typedarray_type type;
  fd_control ctrl;
  if (get_bytes(env, argv[1], "buf", &data, &len) ||
      get_int(env, argv[2], "maxFds", 0, MAX_FDS, &max_fds))
    return NULL;
  if (len == 0) return arg_error(env, 1, "buf must not be empty"), NULL;
  napi_is_typedarray(env, argv[3], &is_ta);
  if (is_ta) napi_get_typedarray_info(env, argv[3], &type, &outlen, &outp, NULL, NULL);
  if (!is_ta || type != napi_int32_array || outlen < (size_t)max_fds + 1)
    return arg_error(env, 0, "fdsOut must be an Int32Array of maxFds+1"), NULL;
  int32_t *out = outp;

  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (max_fds > 0) {
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = CMSG_SPACE(max_fds * sizeof(int));
  }
  ssize_t r = NOINTR(recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
  out[0] = 0;
  if (r < 0 && WOULD_BLOCK) return make_int(env, -1);
  if (r < 0) FAIL("recvmsg");
  int n = 0;
  bool excess = false;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *p = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < k; i++) {
      int rfd;
      memcpy(&rfd, p + i, sizeof rfd);
      if (n < max_fds) out[1 + n++] = rfd;
      else {
        /* CMSG_SPACE pads the buffer to alignment, so the kernel may deliver more fds
         * than asked without setting MSG_CTRUNC: that is still a truncation for us. */
        close(rfd);
        excess = true;
      }
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) || excess) {
    char m[200];
    for (int i = 0; i < n; i++) close(out[1 + i]);
    out[0] = 0;
    snprintf(m, sizeof m,
             "recvmsg: ancillary data truncated (MSG_CTRUNC): the peer sent more than %d fds; "
             "the %d that arrived were closed",
             (int)max_fds, n);
    return throw_errno_msg(env, EPROTO, "recvmsg", m), NULL;
  }
  out[0] = n;
  return make_int(env, r);
}

/* ---------- plain fds ---------- */

static napi_value js_close(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  /* Linux releases the fd even when close reports EINTR, so never retry. */
  if (close(fd) < 0 && errno != EINTR) FAIL("close");
  return NULL;
}

static napi_value js_dup(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  int r;
  if ((r = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) FAIL("fcntl");
  return make_int(env, r);
}

/* eventfd(initval, flags): flags bit 0 = nonblocking, bit 1 = semaphore; always CLOEXEC. */
static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t initval, flags;
  if (get_int(env, argv[0], "initval", 0, UINT32_MAX, &initval) ||
      get_int(env, argv[1], "flags", 0, 3, &flags))
    return NULL;
  int f = EFD_CLOEXEC | ((flags & 1) ? EFD_NONBLOCK : 0) | ((flags & 2) ? EFD_SEMAPHORE : 0);
  int fd = eventfd((unsigned)initval, f);
  if (fd < 0) FAIL("eventfd");
  return make_int(env, fd);
}

static napi_value js_eventfd_read(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  uint64_t v;
  ssize_t r;
  napi_value out;
  if ((r = NOINTR(read(fd, &v, sizeof v))) < 0 && WOULD_BLOCK) return make_null(env);
  if (r < 0) FAIL("read");
  if (r != sizeof v) return throw_errno_msg(env, EINVAL, "read", "read: not an eventfd (short read)"), NULL;
  NAPI(napi_create_bigint_uint64(env, v, &out));
  return out;
}

/* true when added; false when it would block (the counter would overflow). */
static napi_value js_eventfd_write(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  uint64_t v;
  ssize_t r;
  if (get_u64(env, argv[1], "value", UINT64_MAX - 1, &v)) return NULL;
  if ((r = NOINTR(write(fd, &v, sizeof v))) < 0 && WOULD_BLOCK) return make_bool(env, false);
  if (r < 0) FAIL("write");
  return make_bool(env, true);
}

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  ARGS(2);
  char name[250];
  size_t len;
  bool sealing = false;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_string) return arg_error(env, 0, "name must be a string"), NULL;
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
  if (len >= sizeof name) return arg_error(env, 1, "memfd name too long"), NULL;
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  napi_get_value_bool(env, argv[1], &sealing);
  int fd = memfd_create(name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0));
  if (fd < 0) FAIL("memfd_create");
  return make_int(env, fd);
}

static napi_value js_ftruncate(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  uint64_t size;
  if (get_u64(env, argv[1], "size", INT64_MAX, &size)) return NULL;
  if (ftruncate(fd, (off_t)size) < 0) FAIL("ftruncate");
  return NULL;
}

static napi_value js_fstat_size(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  struct stat st;
  napi_value out;
  if (fstat(fd, &st) < 0) FAIL("fstat");
  NAPI(napi_create_bigint_int64(env, st.st_size, &out));
  return out;
}

/* fcntl(F_ADD_SEALS) then F_GET_SEALS: a seal against shrinking is what keeps a peer
 * from truncating shared memory under our mapping (which would SIGBUS us). seals=0
 * only reads them. Returns the seals now in force. */
static napi_value js_memfd_seals(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int64_t add;
  if (get_int(env, argv[1], "seals", 0, 0xffff, &add)) return NULL;
  if (add && fcntl(fd, F_ADD_SEALS, (int)add) < 0) FAIL("fcntl");
  int r = fcntl(fd, F_GET_SEALS);
  if (r < 0) FAIL("fcntl");
  return make_int(env, r);
}

/* [soft, hard] as bigints; null stands for RLIM_INFINITY. */
static napi_value js_memlock_limit(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  napi_value arr, v;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) FAIL("getrlimit");
  NAPI(napi_create_array_with_length(env, 2, &arr));
  rlim_t lim[2] = {rl.rlim_cur, rl.rlim_max};
  for (int i = 0; i < 2; i++) {
    if (lim[i] == RLIM_INFINITY) napi_get_null(env, &v);
    else napi_create_bigint_uint64(env, (uint64_t)lim[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

/* ---------- mmap into external ArrayBuffers ---------- */

typedef struct {
  void *addr;
  size_t len;
  int mapped;
} mapping;

static const napi_type_tag MAPPING_TAG = {0x7666696f6d6d6170ULL, 0x0000000000000001ULL};

/* Runs once the ArrayBuffer's backing store is gone: after GC, or soon after munmap detached it. */
static void mapping_finalize(napi_env env, void *data, void *hint) {
  mapping *m = hint;
  if (m->mapped) munmap(m->addr, m->len);
  free(m);
}

/* mmap(fd, offset, length, prot) -> ArrayBuffer over a MAP_SHARED mapping. prot: 1 read, 2 write. */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  FD_ARGS(4);
  uint64_t offset;
  int64_t length, prot;
  napi_value buf, ab;
  if (get_u64(env, argv[1], "offset", INT64_MAX, &offset) ||
      get_int(env, argv[2], "length", 1, (int64_t)9007199254740991LL, &length) ||
      get_int(env, argv[3], "prot", 1, 3, &prot))
    return NULL;
  int p = ((prot & 1) ? PROT_READ : 0) | ((prot & 2) ? PROT_WRITE : 0);
  void *addr = mmap(NULL, (size_t)length, p, MAP_SHARED, fd, (off_t)offset);
  if (addr == MAP_FAILED) FAIL("mmap");
  mapping *m = malloc(sizeof *m);
  if (!m) {
    munmap(addr, (size_t)length);
    return throw_errno(env, ENOMEM, "mmap"), NULL;
  }
  *m = (mapping){addr, (size_t)length, 1};
  if (napi_create_external_buffer(env, (size_t)length, addr, mapping_finalize, m, &buf) != napi_ok) {
    munmap(addr, (size_t)length);
    free(m);
    return arg_error(env, 1, "mapping too large for an ArrayBuffer"), NULL;
  }
  NAPI(napi_get_typedarray_info(env, buf, NULL, NULL, NULL, &ab, NULL));
  NAPI(napi_type_tag_object(env, ab, &MAPPING_TAG));
  NAPI(napi_wrap(env, ab, m, NULL, NULL, NULL));
  return ab;
}

/* munmap(ab) -> true when unmapped now, false when it already was. Detaches ab. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool is_ab = false, tagged = false, detached = false;
  mapping *m = NULL;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (is_ab) napi_check_object_type_tag(env, argv[0], &MAPPING_TAG, &tagged);
  if (!tagged) return arg_error(env, 0, "not an ArrayBuffer returned by mmap"), NULL;
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (detached || napi_remove_wrap(env, argv[0], (void **)&m) != napi_ok || !m || !m->mapped)
    return make_bool(env, false);
  /* Detach first so no JS can observe the unmapped range; the finalizer then only frees m. */
  NAPI(napi_detach_arraybuffer(env, argv[0]));
  munmap(m->addr, m->len);
  m->mapped = 0;
  return make_bool(env, true);
}

/* ---------- event loop: uv_poll watchers ---------- */

typedef struct {
  uv_poll_t handle; /* first: the uv callbacks get this pointer */
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  int closing, uv_closed, finalized;
} watcher;

static const napi_type_tag WATCHER_TAG = {0x7666696f706f6c6cULL, 0x0000000000000001ULL};

static void watcher_maybe_free(watcher *w) {
  if (w->uv_closed && w->finalized) free(w);
}

static void on_uv_close(uv_handle_t *h) {
  watcher *w = (watcher *)h;
  w->uv_closed = 1;
  watcher_maybe_free(w);
}

static void watcher_close(watcher *w) {
  if (w->closing) return;
  w->closing = 1;
  if (w->cb) napi_delete_reference(w->env, w->cb);
  if (w->actx) napi_async_destroy(w->env, w->actx);
  w->cb = NULL;
  w->actx = NULL;
  /* uv_close takes the fd out of epoll now, so the caller may close the fd right after. */
  uv_close((uv_handle_t *)&w->handle, on_uv_close);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  watcher *w = data;
  watcher_close(w);
  w->finalized = 1;
  watcher_maybe_free(w);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  watcher *w = (watcher *)h;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  if (w->closing || !w->cb) return;
  int ev = ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0) |
           ((events & UV_DISCONNECT) ? 4 : 0);
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &recv); /* make_callback wants an object receiver */
  napi_create_int32(env, ev, &argv[0]);
  napi_create_int32(env, status < 0 ? -status : 0, &argv[1]);
  /* make_callback runs nextTicks and microtasks afterwards, as for any I/O callback. */
  if (napi_make_callback(env, w->actx, recv, cb, 2, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static watcher *get_watcher(napi_env env, napi_value v, bool open) {
  bool tagged = false;
  napi_valuetype t;
  watcher *w = NULL;
  napi_typeof(env, v, &t);
  if (t == napi_external) napi_check_object_type_tag(env, v, &WATCHER_TAG, &tagged);
  if (!tagged || napi_get_value_external(env, v, (void **)&w) != napi_ok || !w) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a poll watcher");
    return NULL;
  }
  if (open && w->closing) {
    throw_errno_msg(env, EBADF, "uv_poll_start", "poll watcher is closed");
    return NULL;
  }
  return w;
}

/* pollNew(fd, cb(events, errno)) -> watcher; events bit 0 readable, 1 writable, 2 hangup. */
static napi_value js_poll_new(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int r;
  napi_valuetype t;
  uv_loop_t *loop;
  napi_value ext, name;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return arg_error(env, 0, "cb must be a function"), NULL;
  NAPI(napi_get_uv_event_loop(env, &loop));
  watcher *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "uv_poll_init"), NULL;
  if ((r = uv_poll_init(loop, &w->handle, fd)) < 0) {
    free(w);
    return throw_errno(env, -r, "uv_poll_init"), NULL;
  }
  w->env = env;
  if (napi_create_external(env, w, watcher_finalize, NULL, &ext) != napi_ok) {
    w->finalized = 1;
    watcher_close(w);
    return throw_napi(env), NULL;
  }
  NAPI(napi_type_tag_object(env, ext, &WATCHER_TAG));
  NAPI(napi_create_reference(env, argv[1], 1, &w->cb));
  NAPI(napi_create_string_utf8(env, "VfioFdPoll", NAPI_AUTO_LENGTH, &name));
  NAPI(napi_async_init(env, NULL, name, &w->actx));
  return ext;
}

/* pollStart(w, events): events bit 0 readable, bit 1 writable; 0 stops watching. */
static napi_value js_poll_start(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t events;
  int r;
  watcher *w = get_watcher(env, argv[0], true);
  if (!w || get_int(env, argv[1], "events", 0, 3, &events)) return NULL;
  if (events == 0) r = uv_poll_stop(&w->handle);
  else r = uv_poll_start(&w->handle, ((events & 1) ? UV_READABLE : 0) | ((events & 2) ? UV_WRITABLE : 0), on_poll);
  if (r < 0) return throw_errno(env, -r, "uv_poll_start"), NULL;
  return NULL;
}

static napi_value js_poll_ref(napi_env env, napi_callback_info info) {
  ARGS(2);
  bool on = true;
  watcher *w = get_watcher(env, argv[0], false);
  if (!w) return NULL;
  napi_get_value_bool(env, argv[1], &on);
  if (!w->closing) {
    if (on) uv_ref((uv_handle_t *)&w->handle);
    else uv_unref((uv_handle_t *)&w->handle);
  }
  return NULL;
}

static napi_value js_poll_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  watcher *w = get_watcher(env, argv[0], false);
  if (w) watcher_close(w);
  return NULL;
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
  if (t != napi_function) return arg_error(env, 0, "factory must be a function"), NULL;
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
      FN("setErrorFactory", js_set_error_factory), FN("socket", js_socket),
      FN("socketpair", js_socketpair), FN("bind", js_bind), FN("listen", js_listen),
      FN("accept", js_accept), FN("connect", js_connect), FN("peerCred", js_peercred),
      FN("sendmsg", js_sendmsg), FN("recvmsg", js_recvmsg), FN("close", js_close),
      FN("dup", js_dup), FN("eventfd", js_eventfd), FN("eventfdRead", js_eventfd_read),
      FN("eventfdWrite", js_eventfd_write), FN("memfdCreate", js_memfd_create),
      FN("ftruncate", js_ftruncate), FN("fstatSize", js_fstat_size),
      FN("memfdSeals", js_memfd_seals),
      FN("memlockLimit", js_memlock_limit), FN("mmap", js_mmap), FN("munmap", js_munmap),
      FN("pollNew", js_poll_new), FN("pollStart", js_poll_start), FN("pollRef", js_poll_ref),
      FN("pollClose", js_poll_close),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
