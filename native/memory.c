/* Shared memory: memfds, their seals and size, and mmap into external ArrayBuffers. */
#include "common.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

napi_value vfio_js_memfd_create(napi_env env, napi_callback_info info) {
  ARGS(2);
  char name[250];
  size_t len;
  bool sealing = false;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_string) return vfio_arg_error(env, 0, "name must be a string"), NULL;
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
  if (len >= sizeof name) return vfio_arg_error(env, 1, "memfd name too long"), NULL;
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  napi_get_value_bool(env, argv[1], &sealing);
  int fd = memfd_create(name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0));
  if (fd < 0) FAIL("memfd_create");
  return vfio_make_int(env, fd);
}

napi_value vfio_js_ftruncate(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  uint64_t size;
  if (vfio_get_u64(env, argv[1], "size", INT64_MAX, &size)) return NULL;
  if (ftruncate(fd, (off_t)size) < 0) FAIL("ftruncate");
  return NULL;
}

napi_value vfio_js_fstat_size(napi_env env, napi_callback_info info) {
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
napi_value vfio_js_memfd_seals(napi_env env, napi_callback_info info) {
  FD_ARGS(2);
  int64_t add;
  if (vfio_get_int(env, argv[1], "seals", 0, 0xffff, &add)) return NULL;
  if (add && fcntl(fd, F_ADD_SEALS, (int)add) < 0) FAIL("fcntl");
  int r = fcntl(fd, F_GET_SEALS);
  if (r < 0) FAIL("fcntl");
  return vfio_make_int(env, r);
}

/* [soft, hard] as bigints; null stands for RLIM_INFINITY. */
napi_value vfio_js_memlock_limit(napi_env env, napi_callback_info info) {
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
napi_value vfio_js_mmap(napi_env env, napi_callback_info info) {
  FD_ARGS(4);
  uint64_t offset;
  int64_t length, prot;
  napi_value buf, ab;
  if (vfio_get_u64(env, argv[1], "offset", INT64_MAX, &offset) ||
      vfio_get_int(env, argv[2], "length", 1, (int64_t)9007199254740991LL, &length) ||
      vfio_get_int(env, argv[3], "prot", 1, 3, &prot))
    return NULL;
  int p = ((prot & 1) ? PROT_READ : 0) | ((prot & 2) ? PROT_WRITE : 0);
  void *addr = mmap(NULL, (size_t)length, p, MAP_SHARED, fd, (off_t)offset);
  if (addr == MAP_FAILED) FAIL("mmap");
  mapping *m = malloc(sizeof *m);
  if (!m) {
    munmap(addr, (size_t)length);
    return vfio_throw_errno(env, ENOMEM, "mmap"), NULL;
  }
  *m = (mapping){addr, (size_t)length, 1};
  if (napi_create_external_buffer(env, (size_t)length, addr, mapping_finalize, m, &buf) != napi_ok) {
    munmap(addr, (size_t)length);
    free(m);
    return vfio_arg_error(env, 1, "mapping too large for an ArrayBuffer"), NULL;
  }
  NAPI(napi_get_typedarray_info(env, buf, NULL, NULL, NULL, &ab, NULL));
  NAPI(napi_type_tag_object(env, ab, &MAPPING_TAG));
  NAPI(napi_wrap(env, ab, m, NULL, NULL, NULL));
  return ab;
}

/* munmap(ab) -> true when unmapped now, false when it already was. Detaches ab. */
napi_value vfio_js_munmap(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool is_ab = false, tagged = false, detached = false;
  mapping *m = NULL;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (is_ab) napi_check_object_type_tag(env, argv[0], &MAPPING_TAG, &tagged);
  if (!tagged) return vfio_arg_error(env, 0, "not an ArrayBuffer returned by mmap"), NULL;
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (detached || napi_remove_wrap(env, argv[0], (void **)&m) != napi_ok || !m || !m->mapped)
    return vfio_make_bool(env, false);
  /* Detach first so no JS can observe the unmapped range; the finalizer then only frees m. */
  NAPI(napi_detach_arraybuffer(env, argv[0]));
  munmap(m->addr, m->len);
  m->mapped = 0;
  return vfio_make_bool(env, true);
}
