/**
 * `vfio-ts demo`: the edu driver demo (src/drivers/edu): an edu server in a child
 * process, driven end to end over vfio-user.
 */
import { demoSucceeded, formatDemoReport, runDemo } from "../drivers/edu/index.js";
import { EXIT_FAILURE, EXIT_OK } from "./cli-error.js";

export async function demoCommand(): Promise<number> {
  const report = await runDemo({ log: (line) => console.log(line) });
  console.log(formatDemoReport(report));
  return demoSucceeded(report) ? EXIT_OK : EXIT_FAILURE;
}
