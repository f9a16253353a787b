/**
 * `vfio-ts demo [--loopback | --device BDF]`: the edu driver (src/drivers/edu),
 * unchanged, end to end: against an edu server in a child process over vfio-user
 * (the default), an edu model in this process over the loopback backend, or a real
 * edu bound to vfio-pci through the kernel (src/harness).
 */
import {
  demoSucceeded,
  formatDemoReport,
  runDemo,
  runKernelDemo,
  runLoopbackDemo,
} from "../harness/index.js";
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./cli-error.js";

export interface DemoCommandOptions {
  readonly loopback?: boolean;
  readonly device?: string;
}

export async function demoCommand(opts: DemoCommandOptions = {}): Promise<number> {
  if (opts.loopback && opts.device !== undefined) {
    throw new CliError("demo takes --loopback or --device, not both", EXIT_USAGE);
  }
  const log = (line: string) => console.log(line);
  let report: Awaited<ReturnType<typeof runDemo>>;
  if (opts.device !== undefined) {
    try {
      report = await runKernelDemo(opts.device, { log });
    } catch (err) {
      throw new CliError((err as Error).message, EXIT_FAILURE, { cause: err });
    }
  } else {
    report = opts.loopback ? await runLoopbackDemo({ log }) : await runDemo({ log });
  }
  console.log(formatDemoReport(report));
  return demoSucceeded(report) ? EXIT_OK : EXIT_FAILURE;
}
