// Every TypeScript block of README.md, run exactly as printed. Each block is marked by
// the line before it, `<!-- snippet: NAME.ts -->`: the test writes it to NAME.ts in a
// scratch project whose node_modules/vfio-ts is this repository (its built dist/ and
// .d.ts, through the package's exports map), type-checks them all with tsc, then runs
// each as the README says it runs, in separate processes. A snippet that drifts from the
// API fails the type-check; one that drifts in behaviour fails its run.
//
// A block that shows only the shape of some properties (placeholders for the device's
// own code) is marked `<!-- fragment: NAME.ts, in TYPE -->` instead: it cannot run, so it
// is type-checked as the properties of an object literal of type Partial<TYPE>, its
// placeholder names (TS2304, "Cannot find name") aside.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir } from "../cli/helpers.js";
import { writeConsumerTsconfig } from "../helpers/consumer-project.js";
import { serveExample } from "./serve-example.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const run = promisify(execFile);

interface Snippet {
  readonly name: string;
  readonly line: number;
  readonly code: string;
  /** For a fragment: the vfio-ts type whose properties it shows. */
  readonly fragmentOf?: string;
}

/** The README's TypeScript and JavaScript blocks; an unmarked one is an error. */
export function readmeSnippets(markdown: string): Snippet[] {
  const lines = markdown.split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `README.md:${i + 1}: a code block that does not end`);
    if (/^(ts|typescript|js|javascript)$/.test(fence[1]!)) {
      const code = lines.slice(i + 1, end).join("\n");
      const marker = /^<!-- snippet: ([\w.-]+\.ts) -->$/.exec(lines[i - 1] ?? "");
      const fragment = /^<!-- fragment: ([\w.-]+\.ts), in (\w+) -->$/.exec(lines[i - 1] ?? "");
      if (fragment) out.push({ name: fragment[1]!, line: i + 1, code, fragmentOf: fragment[2]! });
      else if (marker) out.push({ name: marker[1]!, line: i + 1, code });
      else assert.fail(`README.md:${i + 1}: a ${fence[1]} block without <!-- snippet: NAME.ts -->`);
    }
    i = end;
  }
  return out;
}

describe("README.md snippets, as printed", () => {
  const tmp = tempDir();
  const snippets = readmeSnippets(readFileSync(join(REPO, "README.md"), "utf8"));
  const out = (name: string) => join(tmp.dir, "out", name.replace(/\.ts$/, ".js"));
  after(() => tmp.cleanup());

  before(() => {
    mkdirSync(join(tmp.dir, "src"));
    mkdirSync(join(tmp.dir, "node_modules"));
    symlinkSync(REPO, join(tmp.dir, "node_modules", "vfio-ts"));
    writeFileSync(join(tmp.dir, "package.json"), JSON.stringify({ type: "module" }));
    for (const s of snippets) {
      const text = s.fragmentOf
        ? `import type { ${s.fragmentOf} } from "vfio-ts";\nexport const fragment: Partial<${s.fragmentOf}> = {\n${s.code}\n};\n`
        : `${s.code}\n`;
      writeFileSync(join(tmp.dir, "src", s.name), text);
    }
    writeConsumerTsconfig(tmp.dir);
  });

  it("every block is marked, once, and checked below", () => {
    assert.deepEqual(snippets.map((s) => s.name).sort(), [
      "counter-device.ts",
      "counter-driver.ts",
      "kernel-driver.ts",
      "loopback.ts",
      "migration-fragment.ts",
      "nvme.ts",
    ]);
  });

  it("they type-check against the built package", () => {
    const fragments = snippets.filter((s) => s.fragmentOf).map((s) => `src/${s.name}(`);
    let errors: string[] = [];
    try {
      execFileSync(process.execPath, [TSC, "-p", tmp.dir], { encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      errors = (err as { stdout: string }).stdout.split("\n").filter((l) => l.trim() !== "");
    }
    // A fragment's placeholders (`myState()`) are the only errors allowed, and only there.
    const placeholder = (l: string) =>
      fragments.some((f) => l.includes(f)) && l.includes("error TS2304: Cannot find name");
    const real = errors.filter((l) => !placeholder(l) && !/^\s/.test(l));
    assert.deepEqual(real, [], `tsc failed on the README's snippets:\n${errors.join("\n")}`);
  });

  it("counter-device.ts served by the CLI, counter-driver.ts drives it and exits", async () => {
    const served = await serveExample(out("counter-device.ts"));
    try {
      assert.equal(await served.drive(out("counter-driver.ts")), "36\n");
    } finally {
      assert.deepEqual(await served.stop(), { code: 0, socketRemoved: true }, served.log());
    }
  });

  it("loopback.ts reads the counter's id in process and exits", async () => {
    const { stdout } = await run(process.execPath, [out("loopback.ts")], { timeout: 60_000 });
    assert.equal(stdout, "c0ffee\n");
  });

  // They need a real device bound to vfio-pci; here they run to the first sentence that
  // says why they cannot (no such device, or not bound to vfio-pci) and exit 1.
  for (const [name, address] of [
    ["kernel-driver.ts", "0000:03:00.0"],
    ["nvme.ts", "0000:00:05.0"],
  ] as const) {
    it(`${name} without the device bound to vfio-pci: one VfioError naming it, exit 1`, async () => {
      const err = await run(process.execPath, [out(name)], { timeout: 60_000 }).then(
        () => assert.fail(`${name} ran to its end: is ${address} bound to vfio-pci here?`),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(err.code, 1);
      assert.match(err.stderr, new RegExp(`VfioError.*${address.replace(/\./g, "\\.")}`));
    });
  }
});
