/* UNIX stream sockets, with fds passed as SCM_RIGHTS ancillary data. */
#include "common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 253 /* SCM_MAX_FD: the kernel refuses more per message */
#define STACK_IOV 16

static int get_path(napi_env env, napi_value v, const char *syscall, struct sockaddr_un *sa) {
  size_t len = 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return vfio_arg_error(env, 0, "path must be a string");
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len == 0) return vfio_arg_error(env, 0, "path must not be empty");
  if (len >= sizeof sa->sun_path) return vfio_throw_errno(env, ENAMETOOLONG, syscall), -1;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  napi_get_value_string_utf8(env, v, sa->sun_path, sizeof sa->sun_path, &len);
  if (strlen(sa->sun_path) != len) return vfio_arg_error(env, 0, "path must not contain NUL bytes");
  return 0;
}

static napi_value make_int_array(napi_env env, int n, const int64_t *xs) {
  napi_value arr;
  NAPI(napi_create_array_with_length(env, n, &arr));
  for (int i = 0; i < n; i++) napi_set_element(env, arr, i, vfio_make_int(env, xs[i]));
  return arr;
}

napi_value vfio_js_socket(napi_env env, napi_callback_info info) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) FAIL("socket");
  return vfio_make_int(env, fd);
}

napi_value vfio_js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) FAIL("socketpair");
  return make_int_array(env, 2, (int64_t[]){sv[0], sv[1]});
}

napi_value vfio_js_bind(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  struct sockaddr_un sa;
  if (get_path(env, argv[1], "bind", &sa)) return NULL;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) FAIL("bind");
  return NULL;
}

napi_value vfio_js_listen(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int64_t backlog;
  if (vfio_get_int(env, argv[1], "backlog", 0, 65535, &backlog)) return NULL;
  if (listen(fd, (int)backlog) < 0) FAIL("listen");
  return NULL;
}

/* A pending connection's fd, or null when none is pending. */
napi_value vfio_js_accept(napi_env env, napi_callback_info info) {
  FD_ARGS(1);
  int c;
  if ((c = NOINTR(accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))) >= 0) return vfio_make_int(env, c);
  if (WOULD_BLOCK) return vfio_make_null(env);
  FAIL("accept4");
}

/* true when connected; false when it would block (AF_UNIX: the listener's backlog is full). */
napi_value vfio_js_connect(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  struct sockaddr_un sa;
  if (get_path(env, argv[1], "connect", &sa)) return NULL;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return vfio_make_bool(env, true);
  if (errno == EAGAIN || errno == EINPROGRESS) return vfio_make_bool(env, false);
  FAIL("connect");
}

/* [pid, uid, gid] of the peer process at connect time. */
napi_value vfio_js_peercred(napi_env env, napi_callback_info info) {
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
napi_value vfio_js_sendmsg(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd, fds[MAX_FDS];
  uint32_t nchunks = 0, nfds = 0;
  bool is_array = false;
  napi_valuetype t;
  struct iovec iov_stack[STACK_IOV], *iov = iov_stack;
  fd_control ctrl;
  size_t total = 0;
  napi_value result = NULL;

  if (vfio_get_fd(env, argv[0], &fd)) return NULL;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return vfio_arg_error(env, 0, "chunks must be an array"), NULL;
  napi_get_array_length(env, argv[1], &nchunks);
  if (nchunks > IOV_MAX) return vfio_arg_error(env, 1, "too many chunks"), NULL;
  napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && t != napi_null) {
    napi_is_array(env, argv[2], &is_array);
    if (!is_array) return vfio_arg_error(env, 0, "fds must be an array"), NULL;
    napi_get_array_length(env, argv[2], &nfds);
    if (nfds > MAX_FDS) return vfio_arg_error(env, 1, "at most 253 fds per message"), NULL;
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value e;
      NAPI(napi_get_element(env, argv[2], i, &e));
      if (vfio_get_fd(env, e, &fds[i])) return NULL;
    }
  }
  if (nchunks > STACK_IOV && !(iov = malloc(nchunks * sizeof *iov)))
    return vfio_throw_errno(env, ENOMEM, "sendmsg"), NULL;
  for (uint32_t i = 0; i < nchunks; i++) {
    napi_value e;
    if (napi_get_element(env, argv[1], i, &e) != napi_ok) { vfio_throw_napi(env); goto out; }
    if (vfio_get_bytes(env, e, "each chunk", &iov[i].iov_base, &iov[i].iov_len)) goto out;
    total += iov[i].iov_len;
  }
  /* A stream socket carries ancillary data only together with data bytes. */
  if (nfds > 0 && total == 0 && vfio_arg_error(env, 1, "fds must travel with at least one byte")) goto out;
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
  if (r < 0 && !WOULD_BLOCK) vfio_throw_errno(env, errno, "sendmsg");
  else result = vfio_make_int(env, r < 0 ? 0 : r);
out:
  if (iov != iov_stack) free(iov);
  return result;
}

/*
 * recvmsg(fd, buf: Uint8Array, maxFds, fdsOut: Int32Array) -> bytes (0 = EOF), or -1 if it
 * would block. fdsOut[0] receives the fd count and fdsOut[1..] the fds, so the hot path
 * allocates nothing here.
 */
napi_value vfio_js_recvmsg(napi_env env, napi_callback_info info) {
  FD_ARGS(4);
  int64_t max_fds;
  void *data, *outp;
  size_t len, outlen;
  bool is_ta = false;
  napi_typedarray_type type;
  fd_control ctrl;
  if (vfio_get_bytes(env, argv[1], "buf", &data, &len) ||
      vfio_get_int(env, argv[2], "maxFds", 0, MAX_FDS, &max_fds))
    return NULL;
  if (len == 0) return vfio_arg_error(env, 1, "buf must not be empty"), NULL;
  napi_is_typedarray(env, argv[3], &is_ta);
  if (is_ta) napi_get_typedarray_info(env, argv[3], &type, &outlen, &outp, NULL, NULL);
  if (!is_ta || type != napi_int32_array || outlen < (size_t)max_fds + 1)
    return vfio_arg_error(env, 0, "fdsOut must be an Int32Array of maxFds+1"), NULL;
  int32_t *out = outp;

  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (max_fds > 0) {
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = CMSG_SPACE(max_fds * sizeof(int));
  }
  ssize_t r = NOINTR(recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
  out[0] = 0;
  if (r < 0 && WOULD_BLOCK) return vfio_make_int(env, -1);
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
    return vfio_throw_errno_msg(env, EPROTO, "recvmsg", m), NULL;
  }
  out[0] = n;
  return vfio_make_int(env, r);
}
