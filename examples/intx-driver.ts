// A user-level driver for examples/intx-device.ts: INTx on an eventfd, acknowledged and
// unmasked as a kernel driver would, and what the INTx-disable bit does.
// Run it with: node dist/examples/intx-driver.js /tmp/intx.sock
import {
  VFIO_PCI_BAR0_REGION_INDEX as BAR0,
  pci,
  VFIO_PCI_INTX_IRQ_INDEX,
  VfioUserClient,
} from "vfio-ts";
import { INTX_ACK, INTX_CAUSE, INTX_RAISE } from "./intx-device.js";

const client = await VfioUserClient.connect(process.argv[2] ?? "/tmp/intx.sock");
const dev = client.device;
try {
  await dev.config.enableMemory();
  const [intx] = await dev.irqs.enable(VFIO_PCI_INTX_IRQ_INDEX);

  // The interrupt handler's steps: read the cause, acknowledge it, then unmask (EOI).
  const handle = async (): Promise<number> => {
    await intx!.wait({ timeoutMs: 10_000 });
    const cause = await dev.read32(BAR0, INTX_CAUSE);
    await dev.write32(BAR0, INTX_ACK, cause);
    await intx!.unmask();
    return cause;
  };

  await dev.write32(BAR0, INTX_RAISE, 0x1);
  console.log(`interrupt, cause 0x${(await handle()).toString(16)}`);

  // With PCI_COMMAND_INTX_DISABLE set the line still shows in the status register, but
  // nothing is delivered until the bit is cleared.
  await dev.config.updateCommand(pci.PCI_COMMAND_INTX_DISABLE);
  await dev.write32(BAR0, INTX_RAISE, 0x2);
  const status = await dev.config.read16(pci.PCI_STATUS);
  const delivered = await intx!.wait({ timeoutMs: 300 }).then(
    () => true,
    () => false,
  );
  const line = (status & pci.PCI_STATUS_INTERRUPT) !== 0 ? "asserted" : "low";
  console.log(`INTx disabled: line ${line}, delivered ${delivered}`);
  await dev.config.updateCommand(0, pci.PCI_COMMAND_INTX_DISABLE);
  console.log(`INTx enabled again: interrupt, cause 0x${(await handle()).toString(16)}`);

  // Automasking: the eventfd fires once per unmask while the line stays up. Unmasking
  // without acknowledging the cause gets the same interrupt again.
  await dev.write32(BAR0, INTX_RAISE, 0x4);
  await intx!.wait({ timeoutMs: 10_000 });
  await intx!.unmask();
  console.log(
    `unmasked without acknowledging: interrupt, cause 0x${(await handle()).toString(16)}`,
  );
} finally {
  await client.close();
}
