/**
 * Entry: serves a fresh NVMe controller on `--socket <path>` in its own process, for the
 * NVMe driver's end-to-end tests and the benchmark. `--size BYTES` (default 64 MiB in
 * memory), `--backing FILE`.
 */
import { parseArgs } from "node:util";
import { instantiateBuiltinDevice } from "../devices/index.js";
import { parseSize } from "../devices/nvme/index.js";
import { runServerMain } from "./server-main.js";

const { values } = parseArgs({
  options: { size: { type: "string" }, backing: { type: "string" } },
  strict: false,
});
runServerMain(
  () =>
    instantiateBuiltinDevice("nvme", {
      size: parseSize(typeof values.size === "string" ? values.size : "64M"),
      backing: typeof values.backing === "string" ? values.backing : undefined,
    }).device,
);
