/**
 * Entry: serves a fresh edu device on `--socket <path>` in its own process, for the
 * demo, the driver's tests and the benchmarks (see ServerProcess).
 */
import { instantiateBuiltinDevice } from "../devices/index.js";
import { runServerMain } from "./server-main.js";

runServerMain(() => instantiateBuiltinDevice("edu").device);
