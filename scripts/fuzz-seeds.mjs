// Seed corpora from real traffic (nvme-commands: the commands our NVMe driver builds):
// serves edu in a child process (`vfio-ts serve edu`),
// puts the trace proxy of `vfio-ts trace` in front of it, drives it through the proxy
// the way the demo does (probe, liveness, factorials, DMA round trips by fd and by
// message), and writes each traced message as a seed for every fuzz target it fits.
// `vfio-ts trace --json` prints decoded bodies; the seeds need the raw bytes, so this
// takes them from the proxy's records directly. Run after npm run build:ts:
//   node scripts/fuzz-seeds.mjs        (rewrites fuzz/corpus/)
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nvmeSeeds } from "../dist/fuzz/lib/nvme-seeds.js";
import { bodiesSeed, commandSeed, messageSeed, sessionSeed } from "../dist/fuzz/lib/seed-format.js";
import { TraceProxy } from "../dist/src/cli/trace/proxy.js";
import { VfioUserClient } from "../dist/src/client/index.js";
import { dmaRoundTrip, EduDriver } from "../dist/src/drivers/edu/index.js";
import { Command, HEADER_SIZE, isReply } from "../dist/src/protocol/index.js";

const dir = mkdtempSync(join(tmpdir(), "vfio-ts-seeds-"));
const serverPath = join(dir, "edu.sock");
const proxyPath = join(dir, "proxy.sock");
const server = spawn(process.execPath, ["dist/src/cli/main.js", "serve", "edu", "-s", serverPath], {
  stdio: ["ignore", "ignore", "inherit"],
});
const records = [];
try {
  for (let i = 0; !existsSync(serverPath); i++) {
    if (i > 100) throw new Error("vfio-ts serve edu did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  const proxy = TraceProxy.listen({
    listen: proxyPath,
    connect: serverPath,
    onRecord: (rec) => {
      if (rec.channel !== "main") return;
      const bytes = new Uint8Array(HEADER_SIZE + rec.body.byteLength);
      const dv = new DataView(bytes.buffer);
      dv.setUint16(0, rec.header.id, true);
      dv.setUint16(2, rec.header.command, true);
      dv.setUint32(4, rec.header.size, true);
      dv.setUint32(8, rec.header.flags, true);
      dv.setUint32(12, rec.header.error, true);
      bytes.set(rec.body, HEADER_SIZE);
      records.push({
        direction: rec.direction,
        command: rec.header.command,
        reply: isReply(rec.header),
        fds: rec.fds,
        bytes,
      });
    },
  });
  const client = await VfioUserClient.connect(proxyPath, { name: "seeds", twinSocket: false });
  const driver = await EduDriver.open(client.device, { irqMode: "auto" });
  await driver.checkLiveness();
  for (const n of [0, 5, 12]) await driver.factorial(n);
  const data = Uint8Array.from({ length: 256 }, (_, i) => i);
  await dmaRoundTrip(driver, data, "fd");
  await dmaRoundTrip(driver, data, "message");
  await driver.close();
  await client.close();
  await new Promise((r) => setTimeout(r, 100));
  await proxy.close();
} finally {
  server.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

// One seed per distinct input, named by content, so reruns change only what changed.
const corpora = new Map();
function add(target, bytes) {
  if (bytes === null) return;
  if (!corpora.has(target)) corpora.set(target, new Map());
  const name = createHash("sha1").update(bytes).digest("hex").slice(0, 16);
  corpora.get(target).set(name, bytes);
}
const C = Command;
const toServer = records.filter((r) => r.direction === "c2s");
for (const m of records) {
  add("protocol-bodies", bodiesSeed(m));
  add("protocol-message", messageSeed(m));
  add("protocol-version", commandSeed([C.VFIO_USER_VERSION], m));
  add("protocol-region-info", commandSeed([C.VFIO_USER_DEVICE_GET_REGION_INFO], m));
  add("protocol-dma-unmap", commandSeed([C.VFIO_USER_DMA_UNMAP], m));
}
// The whole client stream, and VERSION followed by each single request.
add("server-session", sessionSeed(toServer));
const version = toServer.find((m) => m.command === C.VFIO_USER_VERSION && !m.reply);
for (const m of toServer) if (m !== version) add("server-session", sessionSeed([version, m]));

// The NVMe controller's commands, as our driver builds them (fuzz/lib/nvme-seeds.ts).
for (const [, bytes] of nvmeSeeds()) add("nvme-commands", bytes);

// Only the targets written here: migration-stream's seeds are made by hand.
for (const [target, seeds] of corpora) {
  rmSync(join("fuzz/corpus", target), { recursive: true, force: true });
  mkdirSync(join("fuzz/corpus", target), { recursive: true });
  for (const [name, bytes] of seeds) writeFileSync(join("fuzz/corpus", target, name), bytes);
  console.log(`fuzz/corpus/${target}: ${seeds.size} seeds`);
}
console.log(`from ${records.length} traced messages`);
process.exit(0);
