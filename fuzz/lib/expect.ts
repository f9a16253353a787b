import { isDeepStrictEqual } from "node:util";
import { ProtocolError } from "../../src/protocol/index.js";

/**
 * Run a decoder on fuzz input: a ProtocolError is the decoder doing its job (the input is
 * not a valid message) and yields undefined; anything else thrown is a bug and escapes,
 * which is what makes Jazzer.js report a finding.
 */
export function decodeOrReject<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ProtocolError) return undefined;
    throw err;
  }
}

/** A decoder returned something inconsistent with its input. */
export class InconsistentDecode extends Error {
  constructor(what: string, detail?: unknown) {
    super(`${what}${detail === undefined ? "" : `: ${inspectable(detail)}`}`);
    this.name = "InconsistentDecode";
  }
}

function inspectable(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x,
  );
}

/** Fail unless two decoded values are structurally equal (views compared by content). */
export function expectSame(what: string, a: unknown, b: unknown): void {
  if (!isDeepStrictEqual(normalize(a), normalize(b))) throw new InconsistentDecode(what, { a, b });
}

// Decoded data fields are views into the input; compare their bytes, not their buffers.
// JSON has one zero: a "-0" in a peer's JSON is re-encoded as 0, and that is no change.
function normalize(v: unknown): unknown {
  if (Object.is(v, -0)) return 0;
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === "object") {
    // No prototype: a decoded "__proto__" key (legal JSON) must stay a key here too.
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = normalize(x);
    return out;
  }
  return v;
}
