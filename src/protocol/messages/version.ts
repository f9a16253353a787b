import { type BodyCodec, type CommandCodec, expectNoFds } from "../codec.js";
import type { Reader } from "../reader.js";
import type { Writer } from "../writer.js";
import {
  capabilitiesFromJson,
  capabilitiesToJson,
  type VersionCapabilities,
} from "./capabilities.js";
import { JsonFloat, parseJsonExact } from "./json.js";

/**
 * VFIO_USER_VERSION request and reply (same layout):
 *   0 major u16 | 2 minor u16 | 4 JSON text, UTF-8, NUL-terminated (optional)
 *
 * `capabilities` is undefined when there is no JSON or the JSON has no "capabilities" key.
 */
export interface VersionMessage {
  major: number;
  minor: number;
  capabilities?: VersionCapabilities;
}

// ignoreBOM keeps a BOM in the text, so it is refused like QEMU and json-c refuse it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function jsonText(v: VersionMessage): string | undefined {
  if (v.capabilities === undefined) return undefined;
  return `{"capabilities":${capabilitiesToJson(v.capabilities)}}`;
}

function parseJson(r: Reader, data: Uint8Array): VersionCapabilities | undefined {
  if (data[data.byteLength - 1] !== 0) r.fail("version data is not NUL-terminated");
  const nul = data.indexOf(0);
  if (nul !== data.byteLength - 1) r.fail(`version data has a NUL at ${nul} before its end`);
  let text: string;
  let top: unknown;
  try {
    text = utf8.decode(data.subarray(0, nul));
  } catch {
    return r.fail("version data is not valid UTF-8");
  }
  try {
    top = parseJsonExact(text);
  } catch (e) {
    return r.fail(`version data is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof top !== "object" || top === null || Array.isArray(top) || top instanceof JsonFloat) {
    r.fail("version data must be a JSON object");
  }
  if (!Object.hasOwn(top, "capabilities")) return undefined;
  return capabilitiesFromJson((top as Record<string, unknown>).capabilities);
}

function versionBody(role: "request" | "reply"): BodyCodec<VersionMessage> {
  return {
    size(v) {
      const text = jsonText(v);
      return 4 + (text === undefined ? 0 : encoder.encode(text).byteLength + 1);
    },
    write(w: Writer, v) {
      w.u16(v.major, "major");
      w.u16(v.minor, "minor");
      const text = jsonText(v);
      if (text !== undefined) {
        w.bytes(encoder.encode(text), "version data");
        w.zeros(1, "version data NUL");
      }
    },
    read(r, ctx) {
      // A reply may carry the twin socket; checkVersionReply validates it against fd_index.
      if (role === "request") expectNoFds(r, ctx);
      const msg: VersionMessage = { major: r.u16("major"), minor: r.u16("minor") };
      if (r.remaining > 0) {
        const caps = parseJson(r, r.rest());
        if (caps !== undefined) msg.capabilities = caps;
      }
      return msg;
    },
  };
}

/** Codec of VFIO_USER_VERSION. */
export const versionCodec: CommandCodec<VersionMessage, VersionMessage> = {
  request: versionBody("request"),
  reply: versionBody("reply"),
};
