/**
 * The Debian kernel the test guest boots: the package behind linux-image-amd64,
 * fetched with `apt-get download` and unpacked with `dpkg-deb -x` into a cache
 * directory, so no kernel hooks run on this machine. Run this file to fetch it ahead
 * of the tests (.ci/run does); it prints the directory.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export function guestCacheDir(): string {
  return process.env.VFIO_TS_GUEST_CACHE ?? join(homedir(), ".cache", "vfio-ts-guest");
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The image package linux-image-amd64 depends on, e.g. linux-image-6.1.0-57-amd64. */
function imagePackage(): string {
  const deps = run("apt-cache", ["depends", "linux-image-amd64"]);
  const m = /Depends: (linux-image-[0-9]\S*)/.exec(deps);
  if (m === null) throw new Error("apt-cache knows no linux-image-amd64: run `apt-get update`");
  return m[1]!;
}

/** A kernel already unpacked in the cache, if any (newest name first). */
export function cachedKernel(): string | undefined {
  const dir = guestCacheDir();
  if (!existsSync(dir)) return undefined;
  const found = readdirSync(dir)
    .filter((d) => d.startsWith("linux-image-") && existsSync(join(dir, d, "boot")))
    .sort()
    .reverse();
  return found[0] === undefined ? undefined : join(dir, found[0]);
}

/** Unpacks the current linux-image-amd64 kernel into the cache; returns its root. */
export function fetchKernel(): string {
  const pkg = imagePackage();
  const dir = join(guestCacheDir(), pkg);
  if (existsSync(join(dir, "boot"))) return dir;
  const work = `${dir}.partial`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  run("apt-get", ["download", pkg], work);
  const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
  if (deb === undefined) throw new Error(`apt-get download ${pkg} left no .deb in ${work}`);
  run("dpkg-deb", ["-x", deb, "root"], work);
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(work, "root"), dir);
  rmSync(work, { recursive: true, force: true });
  return dir;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1])) {
  try {
    process.stdout.write(`${fetchKernel()}\n`);
  } catch (err) {
    process.stderr.write(`kernel-package: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
