/** Entry: the edu device plus the benchmark engine region, on --socket <path>. */
import { EduDevice } from "../src/devices/index.js";
import { runServerMain } from "../src/harness/server-main.js";
import { createDevice } from "../src/server/index.js";
import { benchEngineRegion } from "./bench-engine.js";

runServerMain(() =>
  createDevice({ ...new EduDevice().definition, regions: [benchEngineRegion()] }),
);
