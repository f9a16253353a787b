// Runs the Jazzer.js fuzz targets compiled to dist/fuzz (npm run build:ts first).
//   node scripts/fuzz.mjs <target> [--runs N] [--time SECONDS]   one target, long runs
//   node scripts/fuzz.mjs --ci [--runs N]                         every target, N (100k) each
// Seeds come from fuzz/corpus/<target> (read, never written); what the fuzzer learns goes
// to .fuzz/corpus/<target>, findings to .fuzz/findings/<target>/.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { nodeCommand } from "./fuzz-glibc.mjs";

// Targets that return a promise run without --sync; the others run synchronously (faster).
const ASYNC_TARGETS = new Set(["server-session", "nvme-commands"]);

function targets() {
  return readdirSync("dist/fuzz")
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

function parse(argv) {
  const o = { ci: false, runs: undefined, time: undefined, target: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--ci") o.ci = true;
    else if (a === "--runs") o.runs = Number(argv[++i]);
    else if (a === "--time") o.time = Number(argv[++i]);
    else if (!a.startsWith("-") && o.target === undefined) o.target = a;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function run(prefix, target, libfuzzer) {
  const work = join(".fuzz/corpus", target);
  const findings = join(".fuzz/findings", target);
  mkdirSync(work, { recursive: true });
  mkdirSync(findings, { recursive: true });
  const seeds = join("fuzz/corpus", target);
  const args = [
    ...prefix.slice(1),
    "node_modules/@jazzer.js/core/dist/cli.js",
    join("dist/fuzz", target),
    work,
    ...(existsSync(seeds) ? [seeds] : []),
    ...(ASYNC_TARGETS.has(target) ? [] : ["--sync"]),
    "--",
    `-artifact_prefix=${findings}/`,
    "-print_final_stats=1",
    ...libfuzzer,
  ];
  console.log(`fuzz: ${target} ${libfuzzer.join(" ")}`);
  const started = Date.now();
  const r = spawnSync(prefix[0], args, { stdio: "inherit" });
  console.log(
    `fuzz: ${target} ${r.status === 0 ? "ok" : "FAILED"} in ${(Date.now() - started) / 1000} s`,
  );
  return r.status === 0;
}

const o = parse(process.argv.slice(2));
if (!existsSync("dist/fuzz")) throw new Error("dist/fuzz is missing: run npm run build:ts");
let prefix;
try {
  prefix = nodeCommand();
} catch (err) {
  console.error(`fuzz: ${err.message}`);
  process.exit(2);
}
const all = targets();
if (o.ci) {
  const runs = o.runs ?? 100_000;
  const failed = all.filter((t) => !run(prefix, t, [`-runs=${runs}`]));
  if (failed.length > 0)
    console.error(`fuzz: findings in ${failed.join(", ")} (see .fuzz/findings)`);
  process.exit(failed.length === 0 ? 0 : 1);
}
if (o.target === undefined || !all.includes(o.target)) {
  console.error(
    `usage: npm run fuzz -- <target> [--runs N] [--time SECONDS]\ntargets: ${all.join(" ")}`,
  );
  process.exit(2);
}
const limits = [];
if (o.runs !== undefined) limits.push(`-runs=${o.runs}`);
if (o.time !== undefined) limits.push(`-max_total_time=${o.time}`);
process.exit(run(prefix, o.target, limits) ? 0 : 1);
