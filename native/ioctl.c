/* The kernel VFIO path: ioctl with caller-encoded argument structs, positioned reads
 * and writes at region offsets, and the address of memory we own (MAP_DMA's vaddr).
 * The structs are laid out in src/client/kernel; C only moves the bytes. */
#include "common.h"

#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ioctl(fd, request, arg): arg is an integer passed by value, or a Uint8Array whose
 * bytes the kernel reads and may rewrite in place (struct argsz and all). Returns the
 * ioctl's non-negative result. */
napi_value vfio_js_ioctl(napi_env env, napi_callback_info info) {
  FD_ARGS(3);
  int64_t request;
  napi_valuetype t;
  int r;
  if (vfio_get_int(env, argv[1], "request", 0, UINT32_MAX, &request)) return NULL;
  napi_typeof(env, argv[2], &t);
  if (t == napi_number || t == napi_undefined) {
    int64_t arg = 0;
    if (t == napi_number && vfio_get_int(env, argv[2], "arg", 0, UINT32_MAX, &arg)) return NULL;
    r = NOINTR(ioctl(fd, (unsigned long)request, (unsigned long)arg));
  } else {
    void *data;
    size_t len;
    if (vfio_get_bytes(env, argv[2], "arg", &data, &len)) return NULL;
    if (len == 0) return vfio_arg_error(env, 1, "arg must not be empty"), NULL;
    r = NOINTR(ioctl(fd, (unsigned long)request, data));
  }
  if (r < 0) FAIL("ioctl");
  return vfio_make_int(env, r);
}

/* pread/pwrite(fd, buf, offset) -> bytes moved (a short read only at end of file). */
static napi_value positioned_io(napi_env env, napi_callback_info info, bool write) {
  FD_ARGS(3);
  void *data;
  size_t len;
  uint64_t offset;
  if (vfio_get_bytes(env, argv[1], "buf", &data, &len) ||
      vfio_get_u64(env, argv[2], "offset", INT64_MAX, &offset))
    return NULL;
  ssize_t r = write ? NOINTR(pwrite(fd, data, len, (off_t)offset))
                    : NOINTR(pread(fd, data, len, (off_t)offset));
  if (r < 0) FAIL(write ? "pwrite" : "pread");
  return vfio_make_int(env, r);
}

napi_value vfio_js_pread(napi_env env, napi_callback_info info) {
  return positioned_io(env, info, false);
}

napi_value vfio_js_pwrite(napi_env env, napi_callback_info info) {
  return positioned_io(env, info, true);
}

/* addressOf(u8) -> the virtual address of its first byte, as a bigint. Only meaningful
 * for memory that does not move: mmap'd ArrayBuffers (ours) and external backing stores. */
napi_value vfio_js_address_of(napi_env env, napi_callback_info info) {
  ARGS(1);
  void *data;
  size_t len;
  napi_value out;
  if (vfio_get_bytes(env, argv[0], "buf", &data, &len)) return NULL;
  NAPI(napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &out));
  return out;
}
