// tsc rewrites dist/src/cli/main.js without the execute bit that `npx vfio-ts` needs
// (npm sets it only at install time), so every build ends by restoring it.
import { chmodSync, readFileSync } from "node:fs";

const { bin } = JSON.parse(readFileSync("package.json", "utf8"));
for (const path of Object.values(bin)) chmodSync(path, 0o755);
