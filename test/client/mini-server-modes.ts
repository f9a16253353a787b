/** BAR2 offsets whose REGION_READ the mini server answers wrongly, each in its own way. */
export const BOGUS = {
  /** Reply data shorter than requested. */
  SHORT: 0x100,
  /** Reply names another offset. */
  WRONG_OFFSET: 0x200,
  /** Reply names another region. */
  WRONG_REGION: 0x300,
  /** Reply header carries another command. */
  WRONG_COMMAND: 0x400,
  /** Reply body is 8 bytes of junk. */
  GARBAGE: 0x500,
  /** Reply comes with an fd nobody asked for. */
  WITH_FD: 0x600,
  /** A reply to a message id we never used arrives first. */
  STRAY_REPLY: 0x700,
  /** Server asks us to DMA_READ 64 MiB (beyond our max_data_xfer_size). */
  DMA_READ_HUGE: 0x800,
  /** Server asks us to DMA_READ an unmapped IOVA. */
  DMA_READ_UNMAPPED: 0x900,
  /** Read: the errno our client answered the last DMA request with (u32). */
  LAST_CLIENT_ERRNO: 0xa00,
  /** Reply header claims a 2 GiB message: the connection must be dropped. */
  HUGE_HEADER: 0xf00,
} as const;
