// The package consumer's driver for device.ts, against the installed vfio-ts. It prints
// one JSON line of what it saw, which consumer.test.ts checks.
import {
  VFIO_PCI_BAR0_REGION_INDEX as BAR0,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VfioUserClient,
} from "vfio-ts";

const client = await VfioUserClient.connect(process.argv[2] ?? "/tmp/scratch.sock");
try {
  const dev = client.device;
  await dev.config.enableMemory();
  await dev.config.enableBusMaster(); // MSI-X is a memory write: no bus mastering, no interrupt
  const [vector0] = await dev.irqs.enable(VFIO_PCI_MSIX_IRQ_INDEX, { count: 1 });
  const id = await dev.read32(BAR0, 0x0);
  await dev.write32(BAR0, 0x4, 0x0f0f0f0f);
  const interrupts = await vector0!.wait({ timeoutMs: 10_000 });
  const scratch = await dev.read32(BAR0, 0x4);
  console.log(JSON.stringify({ id, scratch, interrupts }));
} finally {
  await client.close();
}
