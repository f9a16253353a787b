/* Readiness of fds on the Node event loop through uv_poll watchers. */
#include "common.h"

#include <uv.h>

#include <stdlib.h>

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
  napi_value cb, argv[2], result;
  if (w->closing || !w->cb) return;
  int ev = ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0) |
           ((events & UV_DISCONNECT) ? 4 : 0);
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_get_reference_value(env, w->cb, &cb);
  napi_create_int32(env, ev, &argv[0]);
  napi_create_int32(env, status < 0 ? -status : 0, &argv[1]);
  /* make_callback runs nextTicks and microtasks afterwards, as for any I/O callback. */
  /* make_callback wants an object receiver; the function itself is one, and cheaper to
   * get than the global object (this runs once per wake-up). */
  if (napi_make_callback(env, w->actx, cb, cb, 2, argv, &result) == napi_pending_exception) {
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
    vfio_throw_errno_msg(env, EBADF, "uv_poll_start", "poll watcher is closed");
    return NULL;
  }
  return w;
}

/* pollNew(fd, cb(events, errno)) -> watcher; events bit 0 readable, 1 writable, 2 hangup. */
napi_value vfio_js_poll_new(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int r;
  napi_valuetype t;
  uv_loop_t *loop;
  napi_value ext, name;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return vfio_arg_error(env, 0, "cb must be a function"), NULL;
  NAPI(napi_get_uv_event_loop(env, &loop));
  watcher *w = calloc(1, sizeof *w);
  if (!w) return vfio_throw_errno(env, ENOMEM, "uv_poll_init"), NULL;
  if ((r = uv_poll_init(loop, &w->handle, fd)) < 0) {
    free(w);
    return vfio_throw_errno(env, -r, "uv_poll_init"), NULL;
  }
  w->env = env;
  if (napi_create_external(env, w, watcher_finalize, NULL, &ext) != napi_ok) {
    w->finalized = 1;
    watcher_close(w);
    return vfio_throw_napi(env), NULL;
  }
  NAPI(napi_type_tag_object(env, ext, &WATCHER_TAG));
  NAPI(napi_create_reference(env, argv[1], 1, &w->cb));
  NAPI(napi_create_string_utf8(env, "VfioFdPoll", NAPI_AUTO_LENGTH, &name));
  NAPI(napi_async_init(env, NULL, name, &w->actx));
  return ext;
}

/* pollStart(w, events): events bit 0 readable, bit 1 writable; 0 stops watching. */
napi_value vfio_js_poll_start(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t events;
  int r;
  watcher *w = get_watcher(env, argv[0], true);
  if (!w || vfio_get_int(env, argv[1], "events", 0, 3, &events)) return NULL;
  if (events == 0) r = uv_poll_stop(&w->handle);
  else
    r = uv_poll_start(&w->handle, ((events & 1) ? UV_READABLE : 0) | ((events & 2) ? UV_WRITABLE : 0),
                      on_poll);
  if (r < 0) return vfio_throw_errno(env, -r, "uv_poll_start"), NULL;
  return NULL;
}

napi_value vfio_js_poll_ref(napi_env env, napi_callback_info info) {
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

napi_value vfio_js_poll_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  watcher *w = get_watcher(env, argv[0], false);
  if (w) watcher_close(w);
  return NULL;
}
