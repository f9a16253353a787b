/**
 * A client that pipelines requests and never reads the replies, against a real
 * `vfio-ts serve edu` process: the server must stop reading it at its high-water mark
 * (1 MiB of unsent replies) instead of buffering replies without end, stay within a
 * bounded RSS, and serve the next client as if nothing happened.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { ServerProcess } from "../../src/harness/server-process.js";
import {
  Command,
  encodeRequest,
  HEADER_SIZE,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from "../../src/protocol/index.js";
import type { UnixSocket } from "../../src/sys/index.js";
import { fdCountOf } from "../helpers/fds.js";
import { rssBytes } from "../helpers/rss.js";
import { recvExactly, tick } from "../transport/util.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function message(id: number, command: number, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(HEADER_SIZE + body.byteLength);
  const v = new DataView(m.buffer);
  v.setUint16(0, id, true);
  v.setUint16(2, command, true);
  v.setUint32(4, m.byteLength, true);
  m.set(body, HEADER_SIZE);
  return m;
}

async function handshake(sock: UnixSocket): Promise<void> {
  const body = encodeRequest(Command.VFIO_USER_VERSION, { major: 0, minor: 1, capabilities: {} });
  const req = message(1, Command.VFIO_USER_VERSION, body);
  while (sock.send([req]) === 0) await tick();
  const head = (await recvExactly(sock, HEADER_SIZE)).bytes;
  const size = new DataView(head.buffer).getUint32(4, true);
  await recvExactly(sock, size - HEADER_SIZE);
}

describe("hostile client: pipelines config reads and never reads a reply", () => {
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.stop();
  });

  it("is no longer read past the high-water mark; the server's memory stays bounded", {
    timeout: 60_000,
  }, async (t) => {
    const started = await ServerProcess.start({ entry: CLI, args: ["serve", "edu"] });
    server = started.server;
    const sock = started.socket;
    const pid = server.child.pid!;
    await handshake(sock);
    const baselineFds = fdCountOf(pid);
    const baselineRss = rssBytes(pid);

    // 200,000 reads of 256 bytes: about 54 MB of replies if the server kept them all.
    const read = encodeRequest(Command.VFIO_USER_REGION_READ, {
      region: VFIO_PCI_CONFIG_REGION_INDEX,
      offset: 0n,
      count: 256,
    });
    const one = message(2, Command.VFIO_USER_REGION_READ, read);
    const batch = new Uint8Array(one.byteLength * 1000);
    for (let i = 0; i < 1000; i++) batch.set(one, i * one.byteLength);
    // Send until the server has taken nothing for a second. A server that stops reading
    // never takes more; one that keeps reading takes all 200,000 in a few seconds.
    let sent = 0;
    let lastProgress = Date.now();
    let pending = batch.subarray(0);
    while (sent < 200 * batch.byteLength && Date.now() - lastProgress < 1000) {
      const n = sock.send([pending]);
      sent += n;
      pending = pending.subarray(n);
      if (pending.byteLength === 0) pending = batch.subarray(0);
      if (n > 0) lastProgress = Date.now();
      else await new Promise((r) => setTimeout(r, 5));
    }
    const requests = Math.floor(sent / one.byteLength);
    const grown = rssBytes(pid) - baselineRss;
    t.diagnostic(
      `the server took ${requests} requests before it stopped reading; RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(requests < 100_000, `the server stopped reading (it took ${requests} requests)`);
    assert.ok(grown < 48 * 2 ** 20, `RSS grew ${grown} bytes`);

    // The client leaves; the next one is served normally and nothing leaked.
    sock.close();
    const next = await VfioUserClient.connect(server.path, { handshakeTimeoutMs: 10_000 });
    try {
      assert.equal(await next.device.config.read16(0), 0x1234);
      assert.equal(await next.device.config.read16(2), 0x11e8);
    } finally {
      await next.close();
    }
    // The baseline counted the flooding connection's socket; it is closed now.
    const fdsAfter = await waitForFds(pid, baselineFds - 1);
    assert.equal(fdsAfter, baselineFds - 1, "the server's fd count is back where it was");
  });
});

/** The fd count once the server has finished closing the last connection. */
async function waitForFds(pid: number, want: number): Promise<number> {
  for (let i = 0; i < 2000; i++) {
    const n = fdCountOf(pid);
    if (n === want) return n;
    await tick();
  }
  return fdCountOf(pid);
}
