import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const distSrc = fileURLToPath(new URL("../../src/", import.meta.url));
const mod = (p: string) => JSON.stringify(pathToFileURL(join(distSrc, p)).href);

/** Run `body` as an ES module in a fresh node; resolves with its stdout once it exits. */
function runChild(body: string): Promise<{ code: number | null; stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), "vfio-transport-"));
  const file = join(dir, "child.mjs");
  writeFileSync(
    file,
    `import { socketPair } from ${mod("sys/index.js")};
import { Connection } from ${mod("transport/index.js")};
${body}
`,
  );
  return new Promise((resolve, reject) => {
    // The timeout only turns a hang (the bug under test) into a failure.
    execFile(process.execPath, [file], { timeout: 20_000 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err?.killed) reject(new Error(`child did not exit: ${stderr}`));
      else resolve({ code: err ? (err.code as number) : 0, stdout });
    });
  });
}

describe("Connection ref/unref", () => {
  it("an idle unref'd connection lets the process exit", async () => {
    const r = await runChild(`
const [a, b] = socketPair();
const conn = new Connection(a);
conn.unref();
process.on("exit", () => console.log("exited, closed=" + conn.closed));
`);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), "exited, closed=false");
  });

  it("a request in flight keeps an unref'd connection alive until its reply", async () => {
    const r = await runChild(`
const [a, b] = socketPair();
const conn = new Connection(a);
conn.unref();
const buf = new Uint8Array(64);
b.onReadable(() => {
  const got = b.recv(buf, 0);
  if (!got || got.bytes === 0) return;
  buf[8] = 1; // flags: reply
  b.send([buf.subarray(0, 16)]);
});
b.unref(); // only the pending request may keep the loop alive
conn.request(9).then((f) => console.log("reply id " + f.header.id));
`);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), "reply id 0");
  });
});
