/**
 * A client that puts a device in RESUMING and feeds it migration data without end,
 * against a real `vfio-ts serve edu` process. Nothing is applied before the stream is
 * whole, so the server buffers it; it must stop at the device's limit (maxDataBytes,
 * 256 MiB for edu) with EFBIG instead of growing until the machine runs out, drop what
 * it held, and serve the device normally after a reset.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { MigrationState } from "../../src/client/index.js";
import { VfioUserClient } from "../../src/client/vfio-user-client.js";
import { ServerProcess } from "../../src/harness/server-process.js";
import {
  DEFAULT_MAX_DATA,
  encodeRecord,
  RecordKind,
  STREAM_MAGIC,
} from "../../src/server/migration/stream.js";
import { fdCountOf } from "../helpers/fds.js";
import { rssBytes } from "../helpers/rss.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const MiB = 2 ** 20;

describe("hostile client: endless migration data into a resuming device", () => {
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.stop();
  });

  it("gets EFBIG at the device's limit; the server lets go of the data and serves on", {
    timeout: 120_000,
  }, async (t) => {
    const started = await ServerProcess.start({ entry: CLI, args: ["serve", "edu"] });
    server = started.server;
    started.socket.close();
    const pid = server.child.pid!;
    const client = await VfioUserClient.connect(server.path);
    try {
      const fdsBefore = fdCountOf(pid);
      const rssBefore = rssBytes(pid);
      const m = client.device.migration;
      await m.setState(MigrationState.RESUMING);
      await m.write(STREAM_MAGIC);
      // Well-formed pre-copy records of 1 MiB each: only their number is hostile.
      const record = encodeRecord(RecordKind.PRECOPY, new Uint8Array(MiB - 8));
      let written = STREAM_MAGIC.byteLength;
      let peakRss = rssBefore;
      let refused: (Error & { code?: string }) | undefined;
      for (let i = 0; i < 2 * (DEFAULT_MAX_DATA / MiB) && refused === undefined; i++) {
        try {
          await m.write(record);
          written += record.byteLength;
        } catch (err) {
          refused = err as Error & { code?: string };
        }
        if (i % 16 === 0) peakRss = Math.max(peakRss, rssBytes(pid));
      }
      peakRss = Math.max(peakRss, rssBytes(pid));
      t.diagnostic(
        `refused after ${(written / MiB).toFixed(1)} MiB with ${refused?.code}; ` +
          `server RSS grew at most ${((peakRss - rssBefore) / MiB).toFixed(0)} MiB`,
      );
      assert.equal(refused?.code, "EFBIG", `refused with ${refused?.message}`);
      assert.ok(written <= DEFAULT_MAX_DATA, `${written} bytes taken`);
      assert.ok(written > DEFAULT_MAX_DATA - MiB, `${written} bytes taken`);
      // What the server holds is the stream and little more (the copy of the record
      // in progress, a 1 MiB receive buffer).
      assert.ok(
        peakRss - rssBefore < DEFAULT_MAX_DATA + 64 * MiB,
        `RSS grew ${peakRss - rssBefore}`,
      );

      // Failed for good: more data and RESUMING -> STOP are refused; a reset recovers.
      await assert.rejects(m.write(Uint8Array.of(1)), { code: "EFBIG" });
      await assert.rejects(m.setState(MigrationState.STOP), { code: "EFBIG" });
      assert.equal(await m.state(), MigrationState.RESUMING);
      await client.device.reset();
      assert.equal(await m.state(), MigrationState.RUNNING);
      assert.equal(await client.device.config.read16(0), 0x1234);
      assert.equal(fdCountOf(pid), fdsBefore, "no fd leaked");
    } finally {
      await client.close();
    }
  });
});
