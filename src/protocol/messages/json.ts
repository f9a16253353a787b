/**
 * A strict JSON (RFC 8259) parser for the VERSION capabilities. JSON.parse is not enough:
 * it rounds integers beyond 2^53 (a u64 `pgsizes` mask would change or be refused), it
 * cannot tell `4096` from `4096.0` or `4.096e3` (QEMU and libvfio-user reject the latter
 * two for integer capabilities), and it silently keeps the last of duplicate keys, where
 * QEMU's parser refuses them and json-c keeps the last: an ambiguity worth refusing.
 *
 * Output: integer literals become bigint (exact; absurdly long ones JsonFloat), other
 * numbers become JsonFloat, objects are null-prototype records (so "__proto__" is just a
 * key). Nesting is bounded so a hostile peer cannot exhaust the stack.
 */

/** A number written with a fraction or exponent. */
export class JsonFloat {
  constructor(readonly value: number) {}
}

export type JsonValue =
  | null
  | boolean
  | string
  | bigint
  | JsonFloat
  | JsonValue[]
  | { [key: string]: JsonValue };

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

class JsonSyntaxError extends Error {}

class Parser {
  private pos = 0;

  constructor(private readonly s: string) {}

  parseDocument(): JsonValue {
    const v = this.value(0);
    this.ws();
    if (this.pos !== this.s.length) this.fail("trailing characters");
    return v;
  }

  private fail(what: string): never {
    throw new JsonSyntaxError(`${what} at offset ${this.pos}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  private literal(word: string): void {
    if (!this.s.startsWith(word, this.pos)) this.fail("invalid token");
    this.pos += word.length;
  }

  private value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.ws();
    const c = this.s[this.pos];
    switch (c) {
      case "{":
        return this.object(depth);
      case "[":
        return this.array(depth);
      case '"':
        return this.string();
      case "t":
        this.literal("true");
        return true;
      case "f":
        this.literal("false");
        return false;
      case "n":
        this.literal("null");
        return null;
      default:
        return this.number();
    }
  }

  private object(depth: number): JsonValue {
    const o: { [key: string]: JsonValue } = Object.create(null);
    this.pos++;
    this.ws();
    if (this.s[this.pos] === "}") {
      this.pos++;
      return o;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail("expected a string key");
      const key = this.string();
      if (Object.hasOwn(o, key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
      this.ws();
      if (this.s[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      o[key] = this.value(depth + 1);
      this.ws();
      const sep = this.s[this.pos++];
      if (sep === "}") return o;
      if (sep !== ",") this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): JsonValue {
    const a: JsonValue[] = [];
    this.pos++;
    this.ws();
    if (this.s[this.pos] === "]") {
      this.pos++;
      return a;
    }
    for (;;) {
      a.push(this.value(depth + 1));
      this.ws();
      const sep = this.s[this.pos++];
      if (sep === "]") return a;
      if (sep !== ",") this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    const s = this.s;
    for (;;) {
      if (this.pos >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) break;
      if (c < 0x20) this.fail("control character in string");
      if (c === 0x5c) {
        const e = s[this.pos + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(this.pos + 2, this.pos + 6))) {
            this.fail("bad \\u escape");
          }
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail("bad escape");
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    // The token is now known to be a valid JSON string; let the engine unescape it.
    return JSON.parse(s.slice(start, this.pos)) as string;
  }

  private number(): JsonValue {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (m === null) this.fail("invalid token");
    this.pos += m[0].length;
    // Past 40 characters an integer exceeds any u64; BigInt would parse it in quadratic time.
    if (m[1] === undefined && m[2] === undefined && m[0].length <= 40) return BigInt(m[0]);
    // A number past the double range would become Infinity, which no JSON can say back
    // (JSON.stringify writes null); RFC 8259 lets a parser limit the range, so refuse it.
    const value = Number(m[0]);
    if (!Number.isFinite(value)) this.fail("number out of range");
    return new JsonFloat(value);
  }
}

/** Parse `text`; throws Error (never anything else) with a message on invalid JSON. */
export function parseJsonExact(text: string): JsonValue {
  try {
    return new Parser(text).parseDocument();
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw e;
    throw new JsonSyntaxError("invalid JSON");
  }
}

/** The value as JSON.parse would have produced it (integers as numbers, lossy past 2^53). */
export function toPlainJson(v: JsonValue): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof JsonFloat) return v.value;
  if (Array.isArray(v)) return v.map(toPlainJson);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).map((k) => [k, toPlainJson(v[k] as JsonValue)]));
  }
  return v;
}
