// Removes dist/ before the test build, so a deleted source or test file stops being
// compiled output that still runs (tsc never deletes what it emitted earlier).
import { rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
