{
  "targets": [
    {
      "target_name": "vfio_native",
      "sources": [
        "native/addon.c",
        "native/socket.c",
        "native/fd.c",
        "native/memory.c",
        "native/poll.c",
        "native/ioctl.c",
        "native/guarded-copy.c",
        "native/spin.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
