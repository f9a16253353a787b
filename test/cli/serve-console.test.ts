// `serve gpio --verbose`: inputs set on the host console are what the driver reads,
// and what the driver writes to the outputs is printed there.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { VfioUserClient } from "../../src/client/index.js";
import { PCI_COMMAND_IO } from "../../src/pci/regs.js";
import { tempDir, waitFor } from "./helpers.js";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");
const BAR2 = 2;

describe("serve gpio --verbose host console", () => {
  const tmp = tempDir();
  const socket = tmp.path("gpio.sock");
  let server: ChildProcess;
  let out = "";
  let client: VfioUserClient;

  before(async () => {
    server = spawn(process.execPath, [cli, "serve", "gpio", "--socket", socket, "--verbose"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    server.stdout!.on("data", (d) => (out += d));
    server.stderr!.on("data", (d) => (out += d));
    await waitFor(() => existsSync(socket) || server.exitCode !== null, "the socket", 10_000);
    assert.equal(server.exitCode, null, out);
    client = await VfioUserClient.connect(socket);
    await client.device.config.updateCommand(PCI_COMMAND_IO, 0);
  });

  after(async () => {
    await client?.close();
    server.kill("SIGKILL");
    tmp.cleanup();
  });

  it("an input set on the console is read by the driver", async () => {
    assert.equal(await client.device.read8(BAR2, 1), 0x00);
    server.stdin!.write("in 3 1\n");
    await waitFor(() => out.includes("gpio: inputs 0x0008"), "the console's echo");
    assert.equal(await client.device.read8(BAR2, 1), 0x08, "IIN3 is high");
    server.stdin!.write("inputs 0x8100\n");
    await waitFor(() => out.includes("gpio: inputs 0x8100"), "the console's echo");
    assert.equal(await client.device.read8(BAR2, 1), 0x00);
    assert.equal(await client.device.read8(BAR2, 5), 0x81, "inputs 8-15");
  });

  it("an output written by the driver is printed on the console", async () => {
    await client.device.write8(BAR2, 0, 0x05);
    await waitFor(() => out.includes("gpio: outputs 0x0000 -> 0x0005"), "the output report");
    server.stdin!.write("bogus\n");
    await waitFor(() => out.includes('unknown command "bogus"'), "the error");
  });
});
