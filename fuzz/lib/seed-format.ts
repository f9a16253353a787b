import { Command, type CommandId } from "../../src/protocol/index.js";

/** One message as the trace saw it: what the seed writers need. */
export interface SeedMessage {
  readonly command: number;
  readonly reply: boolean;
  readonly fds: number;
  /** Header and body. */
  readonly bytes: Uint8Array;
}

const ALL = Object.values(Command) as number[];

/** A commandTarget input (see command-target.ts) for `commands`. */
export function commandSeed(commands: readonly CommandId[], m: SeedMessage): Uint8Array | null {
  const i = commands.indexOf(m.command as CommandId);
  if (i < 0) return null;
  const head = [i, (m.reply ? 1 : 0) | (Math.min(m.fds, 7) << 1), 0];
  return Uint8Array.from([...head, ...m.bytes.subarray(16)]);
}

export function bodiesSeed(m: SeedMessage): Uint8Array | null {
  return commandSeed(ALL as CommandId[], m);
}

/** A protocol-message input: fd count, then the whole message. */
export function messageSeed(m: SeedMessage): Uint8Array {
  return Uint8Array.from([Math.min(m.fds, 7), ...m.bytes]);
}

/**
 * A server-session input (see fuzz/server-session.ts): the client's messages as chunks
 * of at most 4096 bytes, fds (as memfds, kind 1) on each message's first chunk.
 */
export function sessionSeed(messages: readonly SeedMessage[]): Uint8Array {
  const out: number[] = [0];
  for (const m of messages) {
    for (let pos = 0; pos < m.bytes.byteLength; pos += 4096) {
      const chunk = m.bytes.subarray(pos, pos + 4096);
      const fds = pos === 0 ? Math.min(m.fds, 3) : 0;
      const len = chunk.byteLength - 1;
      out.push(fds | (1 << 2) | ((len >> 8) << 4), len & 0xff, ...chunk);
    }
  }
  return Uint8Array.from(out);
}
