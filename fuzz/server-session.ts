/**
 * Fuzz target: the server's request handling. One VfioUserServer serving an edu device
 * lives for the whole fuzzing process; each input opens a new connection over a kernel
 * socketpair and is a byte stream cut into chunks, each chunk sent with the stray fds
 * (eventfds, memfds, files, directories) the input asks for. Optionally a valid VERSION
 * goes first, so the fuzzer reaches the commands that need a negotiated session.
 *
 * The input fails (throws) when the server's process state breaks: an exception escapes
 * (Jazzer.js reports uncaught ones), the connection is not cleaned up, the next client on
 * a fresh connection does not get a correct VERSION and config-space read, or an fd is
 * left open once both clients are gone.
 */
import { instantiateBuiltinDevice } from "../src/devices/index.js";
import { silentLogger, VfioUserServer } from "../src/server/index.js";
import { socketPair } from "../src/sys/index.js";
import { checkLiveness, versionRequest } from "./lib/liveness.js";
import { openFdCount, StrayFds } from "./lib/stray-fds.js";
import { concat, repliesOwed } from "./lib/stream.js";
import { awaitReplies } from "./lib/wire.js";

const device = instantiateBuiltinDevice("edu").device;
// DMA_READ/WRITE the device sends us go unanswered: time them out well before HUNG_MS.
const server = new VfioUserServer(device, {
  logger: silentLogger,
  twinSocket: false,
  dmaTimeoutMs: 100,
});

/** How long cleanup and answers may take before the server counts as hung. */
const HUNG_MS = 2000;

async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server hung: ${what}`)), HUNG_MS);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Bytes of each memfd a chunk carries: room for a few DMA windows. */
const MEMFD_SIZE = 64 * 1024;

/**
 * Send the input's chunks; stop early once the server has closed the connection. After
 * byte 0 (bit 0: send a valid VERSION first) the input is a list of chunks, each a
 * control byte (bits 0-1: fds to attach, bits 2-3: their kind, bits 4-7: high bits of
 * the length), a low length byte, and 1 + length bytes of stream (fewer at the end).
 * scripts/fuzz-seeds.mjs writes real traffic in this form.
 */
function sendChunks(data: Buffer, send: (chunk: Uint8Array, fds: number[]) => boolean) {
  const stray = new StrayFds();
  try {
    let pos = 1;
    while (pos + 2 < data.length) {
      const ctl = data[pos]!;
      const len = 1 + (((ctl >> 4) << 8) | data[pos + 1]!);
      pos += 2;
      const fds: number[] = [];
      for (let i = 0; i < (ctl & 3); i++) fds.push(stray.make((ctl >> 2) & 3, MEMFD_SIZE));
      const chunk = data.subarray(pos, pos + len);
      pos += len;
      if (!send(chunk, fds)) break;
    }
  } finally {
    stray.closeAll();
  }
}

export async function fuzz(data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const fdsBefore = openFdCount();
  const [client, serverEnd] = socketPair();
  server.serve(serverEnd);
  try {
    const sent: Uint8Array[] = [];
    if ((data[0]! & 1) === 1) sent.push(versionRequest(0xfff0));
    let open = sent.length === 0 || client.send(sent) === sent[0]!.byteLength;
    if (open) {
      sendChunks(data, (chunk, fds) => {
        try {
          // A full socket buffer (not all sent) ends the input: the server is not reading.
          const n = client.send([chunk], fds);
          sent.push(chunk.subarray(0, n));
          return n === chunk.length;
        } catch {
          open = false; // EPIPE/ECONNRESET: the server closed the connection
          return false;
        }
      });
    }
    // Closing at once would drop the commands still queued in the server; wait for the
    // replies it owes (or for it to close the connection) so every command is handled.
    if (open) await awaitReplies(client, repliesOwed(concat(sent)), HUNG_MS);
  } finally {
    client.close();
  }
  await within(server.idle(), "the fuzzed connection was not cleaned up");
  await within(checkLiveness(server), "no answer on a fresh connection");
  await within(server.idle(), "the fresh connection was not cleaned up");
  const fdsAfter = openFdCount();
  if (fdsAfter !== fdsBefore)
    throw new Error(`fd leak: ${fdsBefore} fds before, ${fdsAfter} after`);
}
