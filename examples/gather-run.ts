// Drives examples/gather-device.ts over a socket with the GatherDriver class: buffers in
// three places of the driver's memory gathered into one, then a descriptor the IOMMU
// refuses. Run it with: node dist/examples/gather-run.js /tmp/gather.sock
import { Container, VfioUserClient } from "vfio-ts";
import { GatherDriver } from "./gather-driver.js";

const client = await VfioUserClient.connect(process.argv[2] ?? "/tmp/gather.sock");
const container = new Container();
try {
  const driver = await GatherDriver.open(client.device, container);
  const words = ["scatter", "/", "gather"];
  const sources = [];
  for (const word of words) {
    const buf = await container.allocateBuffer(4096); // each at its own IOVA
    new TextEncoder().encodeInto(word, buf.bytes);
    sources.push({ iova: buf.iova, length: word.length });
  }
  const dest = await container.allocateBuffer(4096);
  for (const vector of [0, 1, 2]) {
    const n = await driver.gather(sources, dest.iova, vector);
    const text = new TextDecoder().decode(dest.bytes.subarray(0, n));
    console.log(`vector ${vector}: gathered ${n} bytes: ${text}`);
  }
  // An IOVA outside every window the driver mapped: the device's DMA faults in the IOMMU.
  await driver.gather([{ iova: 1n << 40n, length: 16 }], dest.iova).catch((err) => {
    console.log(`unmapped descriptor: ${err.code} from the error vector`);
  });
  await driver.close();
} finally {
  await container.close();
  await client.close();
}
