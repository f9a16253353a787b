/**
 * The command line against the guest kernel: lspci --device against the real lspci,
 * and one clear sentence with a non-zero exit for each way opening a device fails.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { CLI, eduAddress } from "./find.js";

function vfioTs(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line on stderr, no stack trace, exit 1. */
function assertOneSentence(r: ReturnType<typeof vfioTs>, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe("vfio-ts on the guest kernel, as a non-root user", () => {
  it("lspci --device -vv prints what the real lspci -vv prints for the device, line by line", () => {
    // The guest script ran both, one after the other, before anything else opened the
    // device: the real one as root (an unprivileged lspci sees only 64 bytes of config
    // space), ours as this user. Opening a device enables it, which can reroute its
    // INTx, so both had to see it in the same state.
    const real = readFileSync("/tmp/lspci-real.txt", "utf8").split("\n");
    const run = readFileSync("/tmp/lspci-ours.txt", "utf8");
    assert.match(run, /^rc=0\n/);
    const ours = run.replace(/^rc=0\n/, "").split("\n");
    assert.ok(ours.length > 8, run);
    for (let i = 0; i < Math.max(real.length, ours.length); i++) {
      assert.equal(ours[i], real[i], `line ${i + 1}`);
    }
  });

  it("vfio-ts demo --device runs the unchanged edu driver end to end through the kernel", () => {
    const r = vfioTs("demo", "--device", eduAddress());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /over kernel \(0000:00:03\.0 through \/dev\/vfio\)/);
    assert.match(r.stdout, /liveness ok/);
    assert.match(r.stdout, /\[all correct\]/);
    assert.match(r.stdout, /DMA via fd-backed buffer : 2048 bytes RAM->device->RAM, .* ok/);
  });

  it("says the group is not viable, naming the member bound to another driver", () => {
    const other = process.env.VFIO_TS_NOT_VIABLE;
    assert.ok(other, "the guest script names a device in a non-viable group");
    assertOneSentence(
      vfioTs("lspci", "--device", other),
      /^vfio-ts: IOMMU group \d+ is not viable: .*0000:00:04\.1 \(bound to serial\)$/,
    );
  });

  it("says a device is not bound to vfio-pci, and how to bind it", () => {
    assertOneSentence(
      vfioTs("lspci", "--device", "0000:00:00.0"),
      /is bound to no driver, not vfio-pci: run `vfio-ts bind 0000:00:00\.0` as root first$/,
    );
  });

  it("says a device does not exist", () => {
    assertOneSentence(vfioTs("lspci", "--device", "00:1e.7"), /no PCI device 0000:00:1e\.7/);
  });

  it("says binding needs root", () => {
    const r = vfioTs("bind", "0000:00:00.0");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vfio-ts: .*permission denied: binding drivers needs root\n$/);
  });

  it("told a user without the group's permission so, in one sentence (run by the guest script)", () => {
    const out = readFileSync("/tmp/other-user.txt", "utf8");
    assert.match(out, /^rc=1\n/);
    assert.match(
      out,
      /\nvfio-ts: permission denied opening \/dev\/vfio\/\d+: IOMMU group \d+ belongs to another user; as root, chown it to the user who runs the driver/,
    );
    assert.doesNotMatch(out, /\n\s+at /);
  });
});
