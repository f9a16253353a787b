/** Entry: the edu device plus the benchmark engine region, on --socket <path>. */
import { EduDevice } from "../src/devices/index.js";
import { runServerMain } from "../src/drivers/server-main.js";
import { createDevice, type PciDevice } from "../src/server/index.js";
import { benchEngineRegion } from "./bench-engine.js";

runServerMain(() => {
  const edu = new EduDevice();
  let device: PciDevice | undefined;
  device = createDevice({
    ...edu.definition,
    regions: [
      benchEngineRegion(() => {
        if (device === undefined) throw new Error("bench engine used before the device exists");
        return device;
      }),
    ],
  });
  edu.bind(device);
  return device;
});
