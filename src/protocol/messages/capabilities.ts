import { ProtocolError } from "../protocol-error.js";
import { JsonFloat, type JsonValue, toPlainJson } from "./json.js";

/**
 * The `capabilities` object of VFIO_USER_VERSION (spec "Version"). Absent fields mean
 * the spec default (see resolveCapabilities in negotiate.ts).
 *
 * Unknown keys: capability names we do not know are kept in `unknown` (only when there
 * are some) so a message re-encodes as it came and a newer peer's extensions can be
 * inspected; negotiation never echoes them. Unknown keys at the top level or inside
 * `migration` / `twin_socket` are tolerated and dropped.
 */
export interface VersionCapabilities {
  /** max_msg_fds: fds the sender can receive in one message. */
  maxMsgFds?: number;
  /** max_data_xfer_size: largest count of a data transfer message. */
  maxDataXferSize?: number;
  /** max_dma_maps: DMA windows that may be mapped at once. */
  maxDmaMaps?: number;
  /** pgsizes: supported DMA page sizes OR'ed together. */
  pgsizes?: bigint;
  /**
   * migration: not in the 0.9.2 spec text but sent by QEMU (and parsed by libvfio-user):
   * dirty-page granularity (a page-size bitmap like pgsizes) and the largest dirty bitmap.
   */
  migration?: MigrationCapability;
  /** twin_socket: server-to-client commands on a separate socket. */
  twinSocket?: TwinSocketCapability;
  /** write_multiple: VFIO_USER_REGION_WRITE_MULTI is supported. */
  writeMultiple?: boolean;
  /** Capabilities this implementation does not know, as parsed JSON values. */
  unknown?: Record<string, unknown>;
}

/** The `migration` capability of VERSION: dirty page size and bitmap limit. */
export interface MigrationCapability {
  pgsize?: bigint;
  maxBitmapSize?: number;
}

/** The `twin_socket` capability of VERSION: a second socket for server-to-client requests. */
export interface TwinSocketCapability {
  supported?: boolean;
  /** Index in the reply's fd array of the server-to-client socket; reply only. */
  fdIndex?: number;
}

const KNOWN = new Set([
  "max_msg_fds",
  "max_data_xfer_size",
  "max_dma_maps",
  "pgsizes",
  "migration",
  "twin_socket",
  "write_multiple",
]);

const U64_LIMIT = 2 ** 64;

function bad(message: string): never {
  throw new ProtocolError("EINVAL", `VERSION capabilities: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonFloat);
}

function show(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof JsonFloat) return String(v.value);
  try {
    return String(JSON.stringify(v));
  } catch {
    return typeof v;
  }
}

/*
 * Integers arrive as bigint from the wire parser (exact, see json.ts) or as numbers when a
 * caller passes JSON.parse output. Numbers written with a fraction or exponent (JsonFloat)
 * are refused, as QEMU and libvfio-user refuse them.
 */
function count(v: unknown, key: string): number {
  if (typeof v === "bigint" && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    bad(`${key} must be a non-negative integer, got ${show(v)}`);
  }
  return v;
}

/** A u64 bitmask in JSON: an integer below 2^64, converted exactly. */
function mask(v: unknown, key: string): bigint {
  if (typeof v === "bigint" && v >= 0n && v < 1n << 64n) return v;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= U64_LIMIT) {
    bad(`${key} must be a non-negative integer below 2^64, got ${show(v)}`);
  }
  return BigInt(v);
}

function bool(v: unknown, key: string): boolean {
  if (typeof v !== "boolean") bad(`${key} must be a boolean, got ${show(v)}`);
  return v;
}

function own(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Validate the parsed `capabilities` value. */
export function capabilitiesFromJson(v: unknown): VersionCapabilities {
  if (!isObject(v)) bad("capabilities must be a JSON object");
  const caps: VersionCapabilities = {};
  const x = (k: string) => own(v, k);
  if (x("max_msg_fds") !== undefined) caps.maxMsgFds = count(x("max_msg_fds"), "max_msg_fds");
  if (x("max_data_xfer_size") !== undefined) {
    caps.maxDataXferSize = count(x("max_data_xfer_size"), "max_data_xfer_size");
  }
  if (x("max_dma_maps") !== undefined) caps.maxDmaMaps = count(x("max_dma_maps"), "max_dma_maps");
  if (x("pgsizes") !== undefined) caps.pgsizes = mask(x("pgsizes"), "pgsizes");
  const mig = x("migration");
  if (mig !== undefined) {
    if (!isObject(mig)) bad("migration must be an object");
    const m: MigrationCapability = {};
    if (own(mig, "pgsize") !== undefined) m.pgsize = mask(own(mig, "pgsize"), "migration.pgsize");
    if (own(mig, "max_bitmap_size") !== undefined) {
      m.maxBitmapSize = count(own(mig, "max_bitmap_size"), "migration.max_bitmap_size");
    }
    caps.migration = m;
  }
  const twin = x("twin_socket");
  if (twin !== undefined) {
    if (!isObject(twin)) bad("twin_socket must be an object");
    const t: TwinSocketCapability = {};
    if (own(twin, "supported") !== undefined) {
      t.supported = bool(own(twin, "supported"), "twin_socket.supported");
    }
    if (own(twin, "fd_index") !== undefined) {
      t.fdIndex = count(own(twin, "fd_index"), "twin_socket.fd_index");
    }
    caps.twinSocket = t;
  }
  if (x("write_multiple") !== undefined) {
    caps.writeMultiple = bool(x("write_multiple"), "write_multiple");
  }
  const unknown = Object.keys(v).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) {
    caps.unknown = Object.fromEntries(unknown.map((k) => [k, toPlainJson(v[k] as JsonValue)]));
  }
  return caps;
}

function numberText(v: unknown, key: string): string {
  return String(count(v, key));
}

/** Only bitmasks a JSON double holds exactly can round-trip through a peer's parser. */
function maskText(v: unknown, key: string): string {
  if (typeof v !== "bigint" || v < 0n || v >= 1n << 64n || BigInt(Number(v)) !== v) {
    bad(`${key} must be a u64 bigint exactly representable as a JSON number`);
  }
  return v.toString();
}

function boolText(v: unknown, key: string): string {
  return String(bool(v, key));
}

/** Serialize to the JSON text of the `capabilities` object (without the NUL). */
export function capabilitiesToJson(caps: VersionCapabilities): string {
  if (!isObject(caps)) bad("capabilities must be an object");
  const parts: string[] = [];
  const add = (k: string, text: string) => parts.push(`${JSON.stringify(k)}:${text}`);
  if (caps.maxMsgFds !== undefined) add("max_msg_fds", numberText(caps.maxMsgFds, "max_msg_fds"));
  if (caps.maxDataXferSize !== undefined) {
    add("max_data_xfer_size", numberText(caps.maxDataXferSize, "max_data_xfer_size"));
  }
  if (caps.maxDmaMaps !== undefined) {
    add("max_dma_maps", numberText(caps.maxDmaMaps, "max_dma_maps"));
  }
  if (caps.pgsizes !== undefined) add("pgsizes", maskText(caps.pgsizes, "pgsizes"));
  if (caps.migration !== undefined) {
    const m = caps.migration;
    if (!isObject(m)) bad("migration must be an object");
    const mp: string[] = [];
    if (m.pgsize !== undefined) mp.push(`"pgsize":${maskText(m.pgsize, "migration.pgsize")}`);
    if (m.maxBitmapSize !== undefined) {
      mp.push(`"max_bitmap_size":${numberText(m.maxBitmapSize, "migration.max_bitmap_size")}`);
    }
    add("migration", `{${mp.join(",")}}`);
  }
  if (caps.twinSocket !== undefined) {
    const t = caps.twinSocket;
    if (!isObject(t)) bad("twin_socket must be an object");
    const tp: string[] = [];
    if (t.supported !== undefined) {
      tp.push(`"supported":${boolText(t.supported, "twin_socket.supported")}`);
    }
    if (t.fdIndex !== undefined) {
      tp.push(`"fd_index":${numberText(t.fdIndex, "twin_socket.fd_index")}`);
    }
    add("twin_socket", `{${tp.join(",")}}`);
  }
  if (caps.writeMultiple !== undefined) {
    add("write_multiple", boolText(caps.writeMultiple, "write_multiple"));
  }
  if (caps.unknown !== undefined) {
    if (!isObject(caps.unknown)) bad("unknown must be an object");
    for (const [k, v] of Object.entries(caps.unknown)) {
      if (KNOWN.has(k)) bad(`unknown capability ${k} collides with a known one`);
      let text: string | undefined;
      try {
        text = JSON.stringify(v);
      } catch {
        text = undefined;
      }
      if (text === undefined) bad(`unknown capability ${k} is not JSON-serializable`);
      add(k, text);
    }
  }
  return `{${parts.join(",")}}`;
}
