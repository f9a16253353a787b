/**
 * What `serve` says about a device module it cannot serve: one line naming the file and
 * the line or cause, and exit status 3 for every way a module can be wrong (2 stays for
 * a bad command line). Also bare `vfio-ts`: usage on stderr, status 2.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((r) => child.on("close", (code) => r({ code, stdout, stderr })));
}

describe("serve: device modules that cannot be served", { concurrency: true }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  async function serveModule(name: string, source: string): Promise<string> {
    const path = tmp.path(name);
    writeFileSync(path, source);
    const r = await run(["serve", path, "--socket-path", tmp.path(`${name}.sock`)]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.equal(r.stdout, "");
    return r.stderr;
  }

  it("a .ts file: says to compile it", async () => {
    const err = await serveModule("dev.ts", "export default {};\n");
    assert.match(err, /dev\.ts is TypeScript, which Node does not run: compile it with tsc/);
  });

  it("a syntax error: the file and line", async () => {
    const err = await serveModule(
      "syntax.mjs",
      "// ok\nexport default {\n  vendorId: 0x1234,,\n};\n",
    );
    assert.match(err, /cannot load device module .*syntax\.mjs:3: SyntaxError: /);
  });

  it("a factory that throws: the file, line and cause", async () => {
    const err = await serveModule(
      "throws.mjs",
      'export default function make() {\n  throw new Error("no licence key");\n}\n',
    );
    assert.match(err, /the device in .*throws\.mjs:2:\d+ failed to build: Error: no licence key/);
  });

  it("a definition the framework rejects: the file and the reason", async () => {
    const err = await serveModule(
      "bad-bar.mjs",
      "export default { vendorId: 1, deviceId: 2, classCode: 3, bars: [{ kind: 'mem32', size: 3 }] };\n",
    );
    assert.match(err, /the device in .*bad-bar\.mjs failed to build: .*BAR/i);
  });

  it("an export that is not a device, or none", async () => {
    assert.match(await serveModule("none.mjs", "export const x = 1;\n"), /has no default export/);
    assert.match(
      await serveModule("other.mjs", "export default { hello: 1 };\n"),
      /the default export is not a device/,
    );
  });

  it("bare vfio-ts prints the usage on stderr and exits 2", async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: vfio-ts/);
    assert.equal(r.stdout, "");
  });
});
