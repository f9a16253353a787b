// Builds or finds the native addon. Modes:
//   rebuild | build  compile with node-gyp into build/Release (what `npm install` in the repo does)
//   prebuild         compile with prebuildify into prebuilds/<platform>-<arch>/ (run by `prepack`,
//                    so `npm pack` ships a binary that is never committed to git)
//   install          the package's install script: use the shipped prebuild when it loads here,
//                    else compile from source; if that fails, say what to install.
// The machine that builds may have no route to the Node headers download, so node-gyp is
// pointed at the headers installed beside the node binary (or npm's configured nodedir).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

function nodedir() {
  const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))];
  return candidates.find((d) => d && existsSync(join(d, "include", "node", "node_api.h")));
}

// Under npm, npm_config_node_gyp names npm's bundled node-gyp; run by hand, look for the
// copy bundled with the npm that sits beside this node, then fall back to PATH.
function nodeGypJs() {
  return [
    process.env.npm_config_node_gyp,
    join(
      dirname(dirname(process.execPath)),
      "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    ),
  ].find((p) => p && existsSync(p));
}

function nodeGyp(action) {
  const gypJs = nodeGypJs();
  const [cmd, pre] = gypJs ? [process.execPath, [gypJs]] : ["node-gyp", []];
  const args = [...pre, action];
  const dir = nodedir();
  if (dir) args.push(`--nodedir=${dir}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root });
  if (r.error) {
    console.error(`build-native: cannot run node-gyp: ${r.error.message}`);
    return 1;
  }
  return r.status ?? 1;
}

async function prebuild() {
  const dir = nodedir();
  if (dir) process.env.npm_config_nodedir = dir; // node-gyp reads it instead of downloading headers
  const gypJs = nodeGypJs();
  const prebuildify = require("prebuildify");
  // node-gyp rebuild starts by deleting build/, and prebuildify then moves the addon out of it:
  // compile in a staging copy so a checkout's build/Release (perhaps loaded by running tests)
  // is never touched.
  const stage = mkdtempSync(join(tmpdir(), "vfio-ts-prebuild-"));
  try {
    for (const f of ["binding.gyp", "package.json", "native"]) {
      cpSync(join(root, f), join(stage, f), { recursive: true });
    }
    // N-API: one binary per platform-arch serves every Node >= 20, so we build once, against
    // this Node's headers; prebuildify names it vfio-ts.glibc.node for node-gyp-build.
    await new Promise((resolve, reject) => {
      prebuildify(
        {
          cwd: stage,
          out: root,
          napi: true,
          strip: true,
          tagLibc: true, // glibc only: a musl system compiles from source instead of failing to load it
          targets: [process.versions.node],
          ...(gypJs ? { nodeGyp: gypJs } : {}),
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return 0;
}

// A source checkout (git, tsconfig) always builds from source, so `npm install` in the repo
// compiles what its native/ says even when an earlier `npm pack` left prebuilds/ behind.
function isCheckout() {
  return existsSync(join(root, ".git")) || existsSync(join(root, "tsconfig.json"));
}

function prebuildLoads() {
  try {
    const path = require("node-gyp-build").path(root);
    if (!path.includes(`${join(root, "prebuilds")}`)) return false;
    require(path);
    return true;
  } catch {
    return false;
  }
}

// In a checkout, an addon newer than every file it is built from is current: npx runs the
// install script of the project directory each time it links it, and a rebuild there
// costs seconds for nothing.
function builtAddonIsCurrent() {
  const addon = join(root, "build", "Release", "vfio_native.node");
  if (!existsSync(addon)) return false;
  const built = statSync(addon).mtimeMs;
  const sources = [
    "binding.gyp",
    ...readdirSync(join(root, "native")).map((f) => join("native", f)),
  ];
  return sources.every((f) => statSync(join(root, f)).mtimeMs < built);
}

function install() {
  const fromSource = process.env.npm_config_build_from_source === "true";
  if (!fromSource && isCheckout() && builtAddonIsCurrent()) return 0;
  if (!fromSource && !isCheckout() && prebuildLoads()) return 0;
  const status = nodeGyp("rebuild");
  if (status !== 0) {
    console.error(
      `vfio-ts: there is no prebuilt addon for ${process.platform}-${process.arch} in this package, ` +
        "and compiling it from source failed. Install a C compiler, make and Python 3 " +
        "(Debian/Ubuntu: apt-get install build-essential python3), then run `npm rebuild vfio-ts`.",
    );
  }
  return status;
}

const mode = process.argv[2] ?? "rebuild";
if (mode === "prebuild") process.exit(await prebuild());
else if (mode === "install") process.exit(install());
else process.exit(nodeGyp(mode));
