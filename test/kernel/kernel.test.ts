/**
 * The kernel VFIO backend against a real kernel: one guest boot (see guest.ts) runs
 * every test in test/kernel/guest/ as an unprivileged user, after the guest script
 * has done, as root, what an administrator does: bind the devices to vfio-pci with
 * `vfio-ts bind`, hand the group node to the user, set the user's memlock limit.
 * Each guest test becomes a subtest here. Without QEMU, busybox or a kernel package
 * the test is skipped with the reason, unless VFIO_TS_REQUIRE_GUEST is set (.ci/run
 * sets it, so CI always checks the kernel path).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { bootGuest, findGuestTools } from "./guest.js";
import { parseGuestReport } from "./guest-report.js";

const EDU = "0000:00:03.0";
/** A second edu sharing a multifunction slot with a serial port the kernel drives. */
const NOT_VIABLE = "0000:00:04.0";
/** QEMU's own NVMe controller, the reference the NVMe driver is checked against. */
const NVME = "0000:00:05.0";
/** What the guest's NVMe test expects QEMU to report: see test/kernel/guest/nvme.guest.ts. */
const NVME_SERIAL = "vfiots-nvme";
const NVME_IMAGE_BYTES = 64 << 20;
const qemuArgs = (nvmeImage: string) => [
  "-device",
  "edu,addr=04.0,multifunction=on",
  "-device",
  "pci-serial,addr=04.1",
  "-drive",
  `file=${nvmeImage},if=none,id=nvm,format=raw,discard=unmap`,
  "-device",
  `nvme,serial=${NVME_SERIAL},drive=nvm,addr=05.0`,
];

const CLI = "node dist/src/cli/main.js";
/** Runs `cmd` as `user`, with its output and status (rc=N first) in `file`. */
const asUser = (user: string, cmd: string, file: string) =>
  `su -p -s /bin/sh ${user} -c "${cmd}" > ${file}.out 2>&1; echo "rc=$?" > ${file}; cat ${file}.out >> ${file}`;

const SCRIPT = `set -u
${CLI} bind ${EDU} --owner 1000 || exit 10
${CLI} bind ${NOT_VIABLE} --owner 1000 || exit 11
${CLI} bind ${NVME} --owner 1000 || exit 12
lspci -vv -s ${EDU} > /tmp/lspci-real.txt 2>/dev/null
ulimit -l 65536
export VFIO_TS_EDU=${EDU} VFIO_TS_NOT_VIABLE=${NOT_VIABLE}
export VFIO_TS_NVME=${NVME} VFIO_TS_NVME_SERIAL=${NVME_SERIAL} VFIO_TS_NVME_BYTES=${NVME_IMAGE_BYTES}
${asUser("driver", `${CLI} lspci --device ${EDU} -vv`, "/tmp/lspci-ours.txt")}
${asUser("other", `${CLI} lspci --device ${EDU} -vv`, "/tmp/other-user.txt")}
# One file at a time: a VFIO group node opens only once, and each file opens the device.
su -p -s /bin/sh driver -c "node --test --test-concurrency=1 --test-reporter=./dist/test/kernel/guest/reporter.js dist/test/kernel/guest/*.guest.js"
rc=$?
echo "@@unbind@@ $(${CLI} unbind ${EDU} 2>&1)"
exit $rc
`;

test("kernel VFIO in a guest: edu and NVMe through vfio-pci, as a non-root user", async (t) => {
  const tools = findGuestTools();
  if (typeof tools === "string") {
    if (process.env.VFIO_TS_REQUIRE_GUEST) assert.fail(`cannot boot the test guest: ${tools}`);
    t.skip(`no test guest: ${tools}`);
    return;
  }
  // The NVMe controller's backing store: a sparse raw image that lives as long as the guest.
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-nvme-"));
  const image = join(dir, "nvme.img");
  writeFileSync(image, "");
  truncateSync(image, NVME_IMAGE_BYTES);
  let run: Awaited<ReturnType<typeof bootGuest>>;
  try {
    run = await bootGuest(tools, { script: SCRIPT, qemuArgs: qemuArgs(image) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`guest boot and tests took ${run.durationMs} ms`);
  const report = parseGuestReport(run.console);
  assert.notEqual(
    report.exitStatus,
    undefined,
    `the guest never finished:\n${run.console.slice(-3000)}`,
  );
  for (const r of report.results) {
    await t.test(r.name, () => {
      if (!r.ok) assert.fail(`in the guest: ${r.error}`);
    });
  }
  for (const d of report.diagnostics) t.diagnostic(`guest: ${d}`);
  const suites = new Set(report.results.map((r) => r.name.split(" > ")[0]));
  assert.deepEqual(
    [...suites].sort(),
    [
      "the NVMe driver against QEMU's nvme through kernel VFIO, as a non-root user",
      "the edu driver through kernel VFIO, as a non-root user",
      "vfio-ts on the guest kernel, as a non-root user",
    ],
    "every guest test file reported",
  );
  assert.equal(report.exitStatus, 0, "the guest script and every guest test succeeded");
  assert.match(
    run.console,
    /@@unbind@@ 0000:00:03\.0: released from vfio-pci; now bound to no driver/,
  );
  // The emulated IOMMU saw the device's DMA to memory it was not given, and refused it.
  assert.match(run.qemuStderr, /vtd_iommu_translate: detected translation failure \(dev=00:03:00/);
  // And the NVMe driver never pointed its controller at memory outside its windows.
  assert.doesNotMatch(run.qemuStderr, /translation failure \(dev=00:05:00/);
});
