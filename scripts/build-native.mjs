// Builds the native addon with node-gyp against the headers of the Node that runs us.
// The machine has no route to the Node headers download, so we point node-gyp at the
// headers installed beside the node binary (or at npm's configured nodedir).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))].filter(
  Boolean,
);
const nodedir = candidates.find((d) => existsSync(join(d, "include", "node", "node_api.h")));

// Under npm, npm_config_node_gyp names npm's bundled node-gyp; run by hand, look for the
// copy bundled with the npm that sits beside this node, then fall back to PATH.
const gypJs = [
  process.env.npm_config_node_gyp,
  join(
    dirname(dirname(process.execPath)),
    "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
  ),
].find((p) => p && existsSync(p));
const [cmd, pre] = gypJs ? [process.execPath, [gypJs]] : ["node-gyp", []];
const args = [...pre, process.argv[2] ?? "rebuild"];
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(cmd, args, { stdio: "inherit" });
if (r.error) {
  console.error(`build-native: cannot run node-gyp: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
