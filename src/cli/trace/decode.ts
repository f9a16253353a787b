/**
 * Decoding of forwarded frames for the trace. Never throws: a frame that does not
 * decode is reported with the reason, and forwarding is not affected either way.
 */
import {
  Command,
  type DecodedMessage,
  decodeFrame,
  type Header,
  ProtocolError,
} from "../../protocol/index.js";

export interface DecodeResult {
  /** The decoded body ({} for an error reply), or undefined. */
  readonly body: unknown;
  readonly error: string | undefined;
}

function bodyOf(m: DecodedMessage): unknown {
  return m.kind === "error" ? {} : m.body;
}

function describe(err: unknown): string {
  if (err instanceof ProtocolError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Decodes one frame. DMA_READ/DMA_WRITE have two layouts in the wild (the spec's
 * 64-bit count and QEMU's 32-bit one); a message that fails the first is tried
 * with the second before it counts as undecodable.
 */
export function decodeForTrace(header: Header, body: Uint8Array, numFds: number): DecodeResult {
  try {
    return { body: bodyOf(decodeFrame(header, body, numFds)), error: undefined };
  } catch (err) {
    const dma =
      header.command === Command.VFIO_USER_DMA_READ ||
      header.command === Command.VFIO_USER_DMA_WRITE;
    if (dma) {
      try {
        const m = decodeFrame(header, body, numFds, { dmaRwLayout: "qemu" });
        return { body: bodyOf(m), error: undefined };
      } catch {
        // Report the error of the spec layout.
      }
    }
    return { body: undefined, error: describe(err) };
  }
}
