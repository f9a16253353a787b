import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cpioNewc } from "./cpio.js";
import { REPORT_MARKER } from "./guest/reporter.js";
import { EXIT_MARKER } from "./guest-image.js";
import { parseGuestReport } from "./guest-report.js";

describe("the guest harness", () => {
  it("writes newc archives that cpio unpacks to the same tree", (t) => {
    const cpio = ["/bin/busybox", "/usr/bin/busybox"].find((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
    if (cpio === undefined) {
      t.skip("busybox is not installed (apt-get install busybox-static)");
      return;
    }
    const data = new Uint8Array(5000).map((_, i) => (i * 31) & 0xff);
    const chunks = cpioNewc([
      { kind: "dir", path: "a" },
      { kind: "dir", path: "a/b", mode: 0o700 },
      { kind: "file", path: "a/b/data", data, mode: 0o755 },
      { kind: "file", path: "empty", data: new Uint8Array(0) },
      { kind: "symlink", path: "a/link", target: "b/data" },
    ]);
    const dir = mkdtempSync(join(tmpdir(), "cpio-"));
    try {
      const archive = join(dir, "x.cpio");
      writeFileSync(archive, Buffer.concat(chunks));
      const r = spawnSync(cpio, ["cpio", "-i", "-d", "-F", archive], {
        cwd: dir,
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readFileSync(join(dir, "a/b/data")), Buffer.from(data));
      assert.equal(statSync(join(dir, "a/b/data")).mode & 0o777, 0o755);
      assert.equal(statSync(join(dir, "a/b")).mode & 0o777, 0o700);
      assert.equal(readFileSync(join(dir, "empty")).length, 0);
      assert.equal(readlinkSync(join(dir, "a/link")), "b/data");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses paths that would leave the archive root", () => {
    assert.throws(() => cpioNewc([{ kind: "dir", path: "a/../../etc" }]), /bad path/);
  });

  it("finds results among console noise, keeps failures, and reads the exit status", () => {
    const console = [
      "[    1.2] some kernel line",
      `${REPORT_MARKER} {"name":"s > passes","file":"x","ok":true}`,
      `junk before ${REPORT_MARKER} {"name":"s > fails","file":"x","ok":false,"error":"boom"}`,
      `${REPORT_MARKER} {"diagnostic":"tests 2"}`,
      `${EXIT_MARKER} 1`,
    ].join("\r\n");
    const r = parseGuestReport(console);
    assert.deepEqual(
      r.results.map((x) => [x.name, x.ok, x.error]),
      [
        ["s > passes", true, undefined],
        ["s > fails", false, "boom"],
      ],
    );
    assert.deepEqual(r.diagnostics, ["tests 2"]);
    assert.equal(r.exitStatus, 1);
    assert.equal(parseGuestReport("no marker at all").exitStatus, undefined);
    assert.throws(() => parseGuestReport(`${REPORT_MARKER} {"name":`), /garbled/);
  });
});
