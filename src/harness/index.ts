/**
 * What runs drivers and devices together, outside the driver API: a device server in
 * a child process (ServerProcess and its entries) and the edu demo behind
 * `vfio-ts demo`. Tests and benchmarks use it; a driver never does.
 */
export {
  type DemoOptions,
  type DemoReport,
  demoSucceeded,
  type FactorialResult,
  formatDemoReport,
  runDemo,
  runKernelDemo,
  runLoopbackDemo,
  SERVE_EDU_ENTRY,
} from "./edu-demo.js";
export { runServerMain } from "./server-main.js";
export { ServerProcess, type ServerProcessOptions } from "./server-process.js";
