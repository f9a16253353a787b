// How to start Node so that Jazzer.js's prebuilt addon loads. Its prebuild for 4.x needs
// glibc >= 2.38; older systems (Debian 12 ships 2.36) run Node under a newer loader and
// libc taken from Debian 13's packages, unpacked into a private cache, never installed.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

const NEEDED = [2, 38];
const ROOT = process.env.VFIO_TS_FUZZ_GLIBC ?? join(homedir(), ".cache", "vfio-ts-fuzz", "glibc");
const LOADER = join(ROOT, "usr/lib64/ld-linux-x86-64.so.2");
const LIBS = join(ROOT, "usr/lib/x86_64-linux-gnu");
const MIRROR = "http://deb.debian.org/debian";

function systemGlibc() {
  const r = spawnSync("ldd", ["--version"], { encoding: "utf8" });
  const m = /(\d+)\.(\d+)\s*$/m.exec((r.stdout ?? "").split("\n")[0] ?? "");
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function newEnough(v) {
  return v !== null && (v[0] > NEEDED[0] || (v[0] === NEEDED[0] && v[1] >= NEEDED[1]));
}

// apt with a private sources list and state, so nothing of the system's apt changes.
function fetchTrixieLibc() {
  const dir = mkdtempSync(join(tmpdir(), "vfio-ts-fuzz-apt-"));
  try {
    mkdirSync(join(dir, "sources"));
    mkdirSync(join(dir, "lists/partial"), { recursive: true });
    mkdirSync(join(dir, "debs"));
    writeFileSync(join(dir, "sources/trixie.list"), `deb ${MIRROR} trixie main\n`);
    const opts = [
      "-o",
      "Dir::Etc::SourceList=/dev/null",
      "-o",
      `Dir::Etc::SourceParts=${join(dir, "sources")}`,
      "-o",
      `Dir::State::Lists=${join(dir, "lists")}`,
      "-o",
      "Dir::State::Status=/dev/null",
      "-o",
      "Debug::NoLocking=1",
    ];
    execFileSync("apt-get", [...opts, "update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", [...opts, "download", "libc6", "libstdc++6", "libgcc-s1"], {
      cwd: join(dir, "debs"),
      stdio: "inherit",
    });
    mkdirSync(ROOT, { recursive: true });
    for (const deb of readdirSync(join(dir, "debs"))) {
      execFileSync("dpkg-deb", ["-x", join(dir, "debs", deb), ROOT]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Command prefix that runs Node with a glibc new enough for Jazzer.js, or throws why not. */
export function nodeCommand() {
  if (newEnough(systemGlibc())) return [process.execPath];
  if (!existsSync(LOADER)) {
    try {
      fetchTrixieLibc();
    } catch (err) {
      throw new Error(
        `Jazzer.js 4's addon needs glibc >= ${NEEDED.join(".")}; this system has ` +
          `${systemGlibc()?.join(".") ?? "an unknown libc"}. Fetching Debian 13's libc6, ` +
          `libstdc++6 and libgcc-s1 from ${MIRROR} (apt-get download, dpkg-deb) into ${ROOT} ` +
          `failed: ${err.message}. Unpack those three packages there by hand, or set ` +
          "VFIO_TS_FUZZ_GLIBC to a root holding usr/lib64/ld-linux-x86-64.so.2.",
      );
    }
  }
  return [LOADER, "--library-path", LIBS, process.execPath];
}
