/**
 * `vfio-ts demo`: the edu driver (src/drivers/edu) against an edu server in a child
 * process, driven end to end over vfio-user (src/harness).
 */
import { demoSucceeded, formatDemoReport, runDemo } from "../harness/index.js";
import { EXIT_FAILURE, EXIT_OK } from "./cli-error.js";

export async function demoCommand(): Promise<number> {
  const report = await runDemo({ log: (line) => console.log(line) });
  console.log(formatDemoReport(report));
  return demoSucceeded(report) ? EXIT_OK : EXIT_FAILURE;
}
