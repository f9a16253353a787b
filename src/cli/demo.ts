/**
 * `vfio-ts demo`: runs the edu driver demo (src/drivers/edu) when it is built:
 * an edu server in a child process driven end to end over vfio-user. Loaded
 * dynamically so the CLI works, and says so, without it.
 */
import { EXIT_FAILURE, EXIT_OK } from "./cli-error.js";

interface DemoModule {
  runDemo(options: { log?: (line: string) => void }): Promise<unknown>;
  formatDemoReport(report: unknown): string;
}

function isDemoModule(m: unknown): m is DemoModule {
  const d = m as Partial<DemoModule> | null;
  return typeof d?.runDemo === "function" && typeof d.formatDemoReport === "function";
}

/** Whether the demo reported success (every check it makes passed). */
function reportOk(report: unknown): boolean {
  const r = report as {
    liveness?: boolean;
    factorials?: { value: number; expected: number }[];
    dma?: { ok: boolean }[];
  };
  return (
    r.liveness !== false &&
    (r.factorials ?? []).every((f) => f.value === f.expected) &&
    (r.dma ?? []).every((d) => d.ok)
  );
}

export async function demoCommand(): Promise<number> {
  // A variable specifier keeps tsc from requiring the module at build time.
  const specifier = "../drivers/edu/index.js";
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch {
    mod = undefined;
  }
  if (!isDemoModule(mod)) {
    console.error("demo: not implemented yet");
    return EXIT_FAILURE;
  }
  const report = await mod.runDemo({ log: (line) => console.log(line) });
  console.log(mod.formatDemoReport(report));
  return reportOk(report) ? EXIT_OK : EXIT_FAILURE;
}
