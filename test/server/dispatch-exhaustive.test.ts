/**
 * The server's dispatch table must name every command: this compiles a copy of src/
 * where the protocol gained a command (with its codec) and the server did not, and
 * checks that tsc refuses it at the dispatch table, then accepts it once a handler
 * is added. It runs the real compiler on the real sources, so it takes a few seconds.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  assert.ok(text.includes(from), `${file} no longer contains ${JSON.stringify(from)}`);
  writeFileSync(file, text.replace(from, to));
}

function tsc(dir: string): { status: number | null; output: string } {
  const r = spawnSync(
    process.execPath,
    [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--noEmit"],
    { encoding: "utf8", cwd: dir },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("server dispatch is exhaustive over Command", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vfio-ts-dispatch-"));
    cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    const config = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8"));
    // The dispatch table and what it imports: the protocol, the handlers, the device core.
    config.include = ["src/server/dispatch.ts"];
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    // A new command, with request/reply types and a codec: everything but a handler.
    edit(
      join(dir, "src/protocol/constants.ts"),
      "  VFIO_USER_MIG_DATA_WRITE: 18,\n",
      "  VFIO_USER_MIG_DATA_WRITE: 18,\n  VFIO_USER_EXPERIMENT: 19,\n",
    );
    const messages = join(dir, "src/protocol/messages/index.ts");
    edit(
      messages,
      "  [Command.VFIO_USER_MIG_DATA_WRITE]: MigDataWriteRequest;\n",
      "  [Command.VFIO_USER_MIG_DATA_WRITE]: MigDataWriteRequest;\n  [Command.VFIO_USER_EXPERIMENT]: EmptyBody;\n",
    );
    edit(
      messages,
      "  [Command.VFIO_USER_MIG_DATA_WRITE]: EmptyBody;\n}",
      "  [Command.VFIO_USER_MIG_DATA_WRITE]: EmptyBody;\n  [Command.VFIO_USER_EXPERIMENT]: EmptyBody;\n}",
    );
    edit(
      messages,
      "  [Command.VFIO_USER_MIG_DATA_WRITE]: migDataWriteCodec,\n",
      "  [Command.VFIO_USER_MIG_DATA_WRITE]: migDataWriteCodec,\n  [Command.VFIO_USER_EXPERIMENT]: deviceResetCodec,\n",
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("fails to compile at the dispatch table while the new command has no handler", () => {
    const r = tsc(dir);
    assert.notEqual(r.status, 0);
    const errors = r.output.split("\n").filter((l) => l.includes("error TS"));
    assert.ok(errors.length > 0, r.output);
    for (const e of errors)
      assert.match(e, /^src\/server\/dispatch\.ts\(.*Property '19' is missing/);
  });

  it("compiles once a handler is added", () => {
    edit(
      join(dir, "src/server/dispatch.ts"),
      "  [Command.VFIO_USER_MIG_DATA_WRITE]:",
      '  [Command.VFIO_USER_EXPERIMENT]: refuse(Errno.EOPNOTSUPP, "EXPERIMENT"),\n  [Command.VFIO_USER_MIG_DATA_WRITE]:',
    );
    const r = tsc(dir);
    assert.equal(r.status, 0, r.output);
  });
});
