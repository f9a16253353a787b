/* A memcpy that survives the memory behind a mapping going away. A vfio-user client
 * can truncate the file it passed with DMA_MAP; touching our mmap of it then raises
 * SIGBUS, which would kill the server. copyGuarded arms a per-thread jump buffer, and
 * the SIGBUS handler jumps back only when the faulting address lies in the copy it
 * guards; any other SIGBUS goes to the previous handler (by default, death). */
#include "common.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  sigjmp_buf jump;
  uintptr_t a_lo, a_hi, b_lo, b_hi;
} guard;

static __thread guard *volatile active;
static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static int install_errno;

static void on_sigbus(int sig, siginfo_t *si, void *ctx) {
  guard *g = active;
  uintptr_t at = (uintptr_t)si->si_addr;
  if (g && ((at >= g->a_lo && at < g->a_hi) || (at >= g->b_lo && at < g->b_hi))) {
    active = NULL;
    siglongjmp(g->jump, 1);
  }
  /* Not ours: behave as if we had never been installed. */
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(sig, si, ctx);
  } else if (previous.sa_handler == SIG_DFL) {
    /* Returning re-runs the faulting access, which now gets the default action. */
    signal(SIGBUS, SIG_DFL);
  } else if (previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  }
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  /* NODEFER: SIGBUS stays unblocked across the jump, so sigsetjmp need not save the
   * signal mask (a system call per copy). */
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &previous) < 0) install_errno = errno;
}

/* copyGuarded(dst, src) -> bytes copied (the shorter length). EFAULT when the memory
 * of either vanished under the copy; the copy may then be partial. */
napi_value vfio_js_copy_guarded(napi_env env, napi_callback_info info) {
  ARGS(2);
  void *dst, *src;
  size_t dlen, slen;
  if (vfio_get_bytes(env, argv[0], "dst", &dst, &dlen) ||
      vfio_get_bytes(env, argv[1], "src", &src, &slen))
    return NULL;
  pthread_once(&installed, install);
  if (install_errno) return vfio_throw_errno(env, install_errno, "sigaction"), NULL;
  size_t n = dlen < slen ? dlen : slen;
  guard g;
  g.a_lo = (uintptr_t)dst;
  g.a_hi = (uintptr_t)dst + n;
  g.b_lo = (uintptr_t)src;
  g.b_hi = (uintptr_t)src + n;
  if (sigsetjmp(g.jump, 0) == 0) {
    active = &g;
    memmove(dst, src, n);
    active = NULL;
  } else {
    return vfio_throw_errno_msg(env, EFAULT, "copy",
                                "copy: the memory behind a mapping is gone (SIGBUS): the file "
                                "under it was truncated"),
           NULL;
  }
  return vfio_make_int(env, (int64_t)n);
}
