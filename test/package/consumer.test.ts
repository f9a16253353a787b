/**
 * The package as a consumer gets it: `npm pack`, install the tarball in a fresh directory
 * offline and with no C compiler, make or Python on PATH, type-check a device and a driver
 * against the published .d.ts, then serve and drive them in separate processes. Catches a
 * file, export or type that the package forgot, and an install that would need a compiler.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir, waitFor } from "../cli/helpers.js";
import { writeConsumerTsconfig } from "../helpers/consumer-project.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const CONSUMER_SRC = join(REPO, "test/package/consumer");
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const REPO_CLI = join(REPO, "dist/src/cli/main.js");

/** The environment of a plain shell: none of the outer `npm test`'s npm_* settings. */
function cleanEnv(path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("npm_")) env[k] = v;
  env.PATH = path;
  return env;
}

/** A PATH with node, npm and a shell only: no cc, gcc, make or python. */
function compilerFreePath(dir: string): string {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const tool of ["node", "npm", "npx", "sh", "env"]) {
    const real = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(real, join(bin, tool));
  }
  return bin;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function packInto(dir: string, what: string): string {
  const out = run(
    "npm",
    ["pack", "--ignore-scripts", "--pack-destination", dir, what],
    REPO,
    cleanEnv(process.env.PATH ?? ""),
  );
  return join(dir, out.trim().split("\n").pop()!);
}

function serve(cli: string, device: string, socket: string, cwd: string): ChildProcess {
  return spawn(process.execPath, [cli, "serve", device, `--socket-path=${socket}`], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Serves `device` with `cli`, drives it with the consumer driver, stops it with SIGTERM. */
async function serveAndDrive(cli: string, app: string, name: string): Promise<unknown> {
  const socket = join(app, `${name}.sock`);
  const server = serve(cli, join(app, "out/device.js"), socket, app);
  let log = "";
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((r) => server.on("exit", (code) => r(code)));
  try {
    await waitFor(() => existsSync(socket) || server.exitCode !== null, "the socket", 20_000);
    assert.equal(server.exitCode, null, `the server exited: ${log}`);
    const out = run(process.execPath, [join(app, "out/driver.js"), socket], app, process.env);
    return JSON.parse(out);
  } finally {
    server.kill("SIGTERM");
    assert.equal(await exited, 0, `SIGTERM is a clean stop: ${log}`);
    assert.equal(existsSync(socket), false, "the socket file is removed");
  }
}

describe("the packed package, installed by a consumer", () => {
  const tmp = tempDir();
  const app = join(tmp.dir, "app");
  after(() => tmp.cleanup());

  before(() => {
    // prepack's step; `npm test` has just compiled dist/, so pack skips the scripts.
    run(
      process.execPath,
      [join(REPO, "scripts/build-native.mjs"), "prebuild"],
      REPO,
      cleanEnv(process.env.PATH ?? ""),
    );
    const tarballs = [
      packInto(tmp.dir, "."),
      // Its runtime dependencies, from the repo's node_modules, so the install runs offline.
      packInto(tmp.dir, "./node_modules/commander"),
      packInto(tmp.dir, "./node_modules/node-gyp-build"),
    ];
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    const path = compilerFreePath(tmp.dir);
    run(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", ...tarballs],
      app,
      cleanEnv(path),
    );
  });

  it("installs with no compiler on PATH, from the prebuilt addon", () => {
    const pkg = join(app, "node_modules/vfio-ts");
    assert.deepEqual(readdirSync(join(pkg, "prebuilds")), [`${process.platform}-${process.arch}`]);
    assert.equal(existsSync(join(pkg, "build")), false, "nothing was compiled");
    for (const f of ["LICENSE", "CHANGELOG.md", "README.md", "dist/src/index.d.ts"]) {
      assert.ok(existsSync(join(pkg, f)), `${f} is in the package`);
    }
  });

  it("ships the files its source maps point at", () => {
    const dist = join(app, "node_modules/vfio-ts/dist/src");
    let maps = 0;
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".js.map")) {
          maps++;
          for (const s of JSON.parse(readFileSync(p, "utf8")).sources as string[]) {
            assert.ok(existsSync(join(dirname(p), s)), `${p} points at ${s}`);
          }
        }
      }
    };
    walk(dist);
    assert.ok(maps > 50, `${maps} maps checked`);
  });

  it("a device and a driver type-check against the published types", () => {
    cpSync(CONSUMER_SRC, join(app, "src"), { recursive: true });
    writeConsumerTsconfig(app);
    run(process.execPath, [TSC, "-p", "."], app, process.env);
    assert.ok(existsSync(join(app, "out/device.js")) && existsSync(join(app, "out/driver.js")));
  });

  it("the installed CLI serves the device and the driver drives it, in separate processes", {
    timeout: 120_000,
  }, async () => {
    const cli = join(app, "node_modules/vfio-ts/dist/src/cli/main.js");
    assert.deepEqual(await serveAndDrive(cli, app, "installed"), {
      id: 0x5c7a7c40,
      scratch: 0xf0f0f0f0,
      interrupts: 1,
    });
  });

  it("another copy's CLI (the repo's) serves a device built against the installed copy", {
    timeout: 120_000,
  }, async () => {
    assert.deepEqual(await serveAndDrive(REPO_CLI, app, "other-copy"), {
      id: 0x5c7a7c40,
      scratch: 0xf0f0f0f0,
      interrupts: 1,
    });
  });

  it("with no prebuild for the platform and no compiler, the install says what to install", () => {
    const pkg = join(app, "node_modules/vfio-ts");
    renameSync(join(pkg, "prebuilds"), join(tmp.dir, "prebuilds-aside"));
    try {
      const r = spawnSync(process.execPath, ["scripts/build-native.mjs", "install"], {
        cwd: pkg,
        env: cleanEnv(join(tmp.dir, "bin")),
        encoding: "utf8",
      });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /no prebuilt addon for .* Install a C compiler, make and Python 3/);
    } finally {
      renameSync(join(tmp.dir, "prebuilds-aside"), join(pkg, "prebuilds"));
    }
  });
});
