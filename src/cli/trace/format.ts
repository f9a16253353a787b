/**
 * Text and JSON renderings of trace records: one line per message. Text is for
 * people (compact key=value fields, hex for addresses); JSON is one object per
 * line for tools (bigints as decimal strings, bytes as hex strings).
 */
import { errnoName } from "../../errors.js";
import {
  commandName,
  encodeHeader,
  HEADER_SIZE,
  isErrorReply,
  isReply,
  VFIO_USER_F_ERROR,
  VFIO_USER_F_NO_REPLY,
  VFIO_USER_F_TYPE_REPLY,
} from "../../protocol/index.js";
import type { SessionEvent, TraceRecord } from "./record.js";

/** Bytes shown inline in text; longer data is cut with a count of what was left out. */
const TEXT_BYTES = 16;
/** Raw bytes shown for a message that did not decode. */
const RAW_BYTES = 256;
/** Array elements shown inline in text. */
const TEXT_ITEMS = 8;
/** Number fields shown in hex (flag words), everything else numeric is decimal. */
const HEX_KEYS = new Set(["flags", "ops"]);

function hexBytes(b: Uint8Array, limit: number): string {
  const shown = Array.from(b.subarray(0, limit), (x) => x.toString(16).padStart(2, "0"));
  const more = b.length > limit ? ` …(+${b.length - limit})` : "";
  return shown.join(" ") + more;
}

function textValue(key: string, v: unknown, depth: number): string {
  if (typeof v === "bigint") return `0x${v.toString(16)}`;
  if (typeof v === "number") return HEX_KEYS.has(key) ? `0x${v.toString(16)}` : String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (v instanceof Uint8Array) {
    return v.length === 0 ? "<0 bytes>" : `<${v.length} bytes: ${hexBytes(v, TEXT_BYTES)}>`;
  }
  if (depth > 4) return "…";
  if (Array.isArray(v)) {
    const items = v.slice(0, TEXT_ITEMS).map((x) => textValue(key, x, depth + 1));
    if (v.length > TEXT_ITEMS) items.push(`…(+${v.length - TEXT_ITEMS})`);
    return `[${items.join(", ")}]`;
  }
  if (typeof v === "object") return `{${textFields(v as Record<string, unknown>, depth + 1)}}`;
  return String(v);
}

/** "key=value key=value" of a decoded body; undefined fields are left out. */
export function textFields(obj: Record<string, unknown>, depth = 0): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    parts.push(`${k}=${textValue(k, v, depth)}`);
  }
  return parts.join(" ");
}

/** "0x21(reply|error)": the flags word and the names of its bits. */
export function flagsText(flags: number): string {
  const names = [(flags & 0xf) === VFIO_USER_F_TYPE_REPLY ? "reply" : "command"];
  if (flags & VFIO_USER_F_NO_REPLY) names.push("no_reply");
  if (flags & VFIO_USER_F_ERROR) names.push("error");
  return `0x${flags.toString(16)}(${names.join("|")})`;
}

function kindOf(rec: TraceRecord): "request" | "reply" | "error" {
  if (!isReply(rec.header)) return "request";
  return isErrorReply(rec.header) ? "error" : "reply";
}

/** The whole message (header + body) as bytes, for messages that did not decode. */
export function rawMessage(rec: TraceRecord): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + rec.body.length);
  encodeHeader(out, rec.header);
  out.set(rec.body, HEADER_SIZE);
  return out;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(6).padStart(12);
}

function arrow(rec: TraceRecord): string {
  const a = rec.direction === "c2s" ? "c->s" : "s->c";
  return rec.channel === "twin" ? `${a}(twin)` : a;
}

/** One text line: time, session, direction, command, kind, id, flags, fields, latency. */
export function formatRecordText(rec: TraceRecord): string {
  const h = rec.header;
  const kind = kindOf(rec);
  const parts = [
    seconds(rec.time),
    `#${rec.session}`,
    arrow(rec),
    commandName(h.command),
    kind,
    `id=${h.id}`,
    `flags=${flagsText(h.flags)}`,
  ];
  if (rec.fds > 0) parts.push(`fds=${rec.fds}`);
  if (kind === "error") parts.push(`errno=${errnoName(h.error)}(${h.error})`);
  if (rec.decodeError !== undefined) {
    parts.push(`DECODE ERROR: ${rec.decodeError}`);
    parts.push(`raw=[${hexBytes(rawMessage(rec), RAW_BYTES)}]`);
  } else if (rec.decoded !== null && typeof rec.decoded === "object") {
    const fields = textFields(rec.decoded as Record<string, unknown>);
    // "|" separates the header from body fields (both may have "flags").
    if (fields !== "") parts.push("|", fields);
  }
  if (rec.latencyMs !== undefined) parts.push(`(${rec.latencyMs.toFixed(3)} ms)`);
  return parts.join(" ");
}

function jsonValue(v: unknown, depth: number): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array)
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
  if (depth > 8 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => jsonValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = jsonValue(x, depth + 1);
  return out;
}

/** The record as a plain JSON-safe object (what --json prints, one per line). */
export function recordToJson(rec: TraceRecord): Record<string, unknown> {
  const h = rec.header;
  const kind = kindOf(rec);
  const out: Record<string, unknown> = {
    time: Number(rec.time.toFixed(3)),
    session: rec.session,
    channel: rec.channel,
    direction: rec.direction,
    kind,
    command: commandName(h.command),
    commandId: h.command,
    id: h.id,
    flags: h.flags,
    size: h.size,
    fds: rec.fds,
  };
  if (kind === "error") {
    out.errno = h.error;
    out.errnoName = errnoName(h.error);
  }
  if (rec.latencyMs !== undefined) out.latencyMs = Number(rec.latencyMs.toFixed(3));
  if (rec.decodeError !== undefined) {
    out.decodeError = rec.decodeError;
    out.raw = jsonValue(rawMessage(rec), 0);
  } else {
    out.body = jsonValue(rec.decoded, 0);
  }
  return out;
}

export function formatRecordJson(rec: TraceRecord): string {
  return JSON.stringify(recordToJson(rec));
}

export function formatEventText(ev: SessionEvent): string {
  return `${seconds(ev.time)} #${ev.session} ${ev.kind}: ${ev.message}`;
}

export function formatEventJson(ev: SessionEvent): string {
  return JSON.stringify({
    time: Number(ev.time.toFixed(3)),
    session: ev.session,
    event: ev.kind,
    message: ev.message,
  });
}
