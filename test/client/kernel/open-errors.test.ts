import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { KernelContainer } from "../../../src/client/kernel/kernel-container.js";
import { openKernelDevice } from "../../../src/client/kernel/open-device.js";
import { VfioError } from "../../../src/errors.js";
import { openFdCount } from "../../helpers/fds.js";

const isVfio = (code: string, re: RegExp) => (e: unknown) =>
  e instanceof VfioError && e.code === code && re.test(e.message);

describe("opening kernel VFIO nodes fails with one sentence", () => {
  const dir = mkdtempSync(join(tmpdir(), "vfio-dev-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a missing container node says VFIO is not there", () => {
    assert.throws(
      () => KernelContainer.open(join(dir, "vfio")),
      isVfio("ENODEV", /does not exist: the VFIO container .*modprobe vfio/),
    );
  });

  it("a node that is not VFIO is refused by the API version ioctl, and its fd is closed", () => {
    const fake = join(dir, "not-vfio");
    writeFileSync(fake, "");
    const before = openFdCount();
    assert.throws(
      () => KernelContainer.open(fake),
      (e: unknown) => {
        return (
          e instanceof VfioError &&
          e.code === "ENOTTY" &&
          /not-vfio is not a VFIO container/.test(e.message)
        );
      },
    );
    assert.equal(openFdCount(), before);
  });

  it("a node of another user says whom to ask", (t) => {
    if (process.getuid?.() === 0) {
      t.skip("root opens any file; the guest test checks this as an unprivileged user");
      return;
    }
    const locked = join(dir, "locked");
    writeFileSync(locked, "");
    chmodSync(locked, 0);
    assert.throws(() => KernelContainer.open(locked), isVfio("EACCES", /chown it to the user/));
  });

  it("a device that is not there, or an address that is not one", async () => {
    await assert.rejects(
      openKernelDevice("0000:00:1f.7", { sysfsRoot: dir }),
      isVfio("ENODEV", /no PCI device 0000:00:1f\.7/),
    );
    await assert.rejects(openKernelDevice("eth0"), isVfio("EINVAL", /is not a PCI address/));
  });
});
