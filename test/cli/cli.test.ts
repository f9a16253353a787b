/**
 * The vfio-ts command as a user runs it: separate processes, real sockets. Checks
 * help, clear one-line errors with meaningful exit codes, and serve/lspci/trace
 * working together.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Command, encodeReplyMessage, type VersionMessage } from "../../src/protocol/index.js";
import { listenUnix, type UnixSocket } from "../../src/sys/index.js";
import { native } from "../../src/sys/native.js";
import { tempDir, waitFor } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): {
  child: ChildProcess;
  result: Promise<Result>;
  out: () => string;
} {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const result = new Promise<Result>((resolve) => {
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, result, out: () => stdout };
}

function run(args: string[]): Promise<Result> {
  return start(args).result;
}

function assertCleanError(r: Result, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
}

/** A fake server that answers the first message with `reply` (raw bytes). */
function fakeServer(path: string, reply: Uint8Array) {
  const l = listenUnix(path);
  const socks: UnixSocket[] = [];
  l.onConnection((s) => {
    const sock = s as UnixSocket;
    socks.push(sock);
    const buf = new Uint8Array(4096);
    sock.onReadable(() => {
      const r = sock.recv(buf, 4);
      if (r === null) return;
      if (r.bytes === 0) {
        sock.onReadable(null);
        return;
      }
      sock.send([reply]);
    });
  });
  return {
    close: () => {
      for (const s of socks) s.close();
      l.close();
    },
  };
}

describe("vfio-ts command line", { concurrency: true }, () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("the package bin is executable after a build, as `npx vfio-ts` needs", () => {
    assert.equal(statSync(MAIN).mode & 0o111, 0o111);
  });

  it("--help lists the commands and exits 0", async () => {
    const r = await run(["--help"]);
    assert.equal(r.code, 0);
    for (const c of ["serve", "lspci", "trace", "demo"])
      assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
    const l = await run(["lspci", "--help"]);
    assert.match(l.stdout, /-x, --hex/);
  });

  it("usage errors exit 2", async () => {
    const r = await run(["lspci"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /lspci needs exactly one of --socket PATH and --device BDF/);
    assertCleanError(
      await run(["serve", "nvme9000", "--socket", tmp.path("x.sock")]),
      /unknown device "nvme9000": built-in devices are edu, gpio/,
      2,
    );
    const bad = await run(["serve", "edu", "--socket", tmp.path("y.sock"), "--dma-layout", "v2"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--dma-layout.*v2.*Allowed choices are spec, qemu/);
    const poll = await run(["serve", "edu", "--socket", tmp.path("z.sock"), "--poll-us", "-5"]);
    assert.equal(poll.code, 2);
    assert.match(poll.stderr, /--poll-us.*expected an integer from 0 to 1000000/);
  });

  it("lspci: a missing socket says there is no server", async () => {
    const path = tmp.path("missing.sock");
    assertCleanError(
      await run(["lspci", "--socket", path]),
      new RegExp(`^vfio-ts: no vfio-user server at ${path}`),
    );
  });

  it("lspci: a refused connection says nothing is listening", async () => {
    const path = tmp.path("stale.sock");
    const addon = native();
    const fd = addon.socket();
    addon.bind(fd, path); // bound, never listening: connect is refused
    addon.close(fd);
    assertCleanError(
      await run(["lspci", "--socket", path]),
      /connection refused at .*stale\.sock: nothing is listening/,
    );
  });

  it("lspci: a server of another protocol version is named as such", async () => {
    const path = tmp.path("v1.sock");
    const v1: VersionMessage = { major: 1, minor: 0 };
    const server = fakeServer(path, encodeReplyMessage(0, Command.VFIO_USER_VERSION, v1));
    try {
      assertCleanError(
        await run(["lspci", "--socket", path]),
        /speaks another vfio-user protocol version: .*major 1/,
      );
    } finally {
      server.close();
    }
  });

  it("lspci: a peer that is not vfio-user at all", async () => {
    const path = tmp.path("http.sock");
    const server = fakeServer(path, new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
    try {
      assertCleanError(await run(["lspci", "--socket", path]), /does not speak vfio-user/);
    } finally {
      server.close();
    }
  });

  it("serve, trace --once --json and lspci work together; SIGINT removes the socket", async () => {
    const sock = tmp.path("edu.sock");
    const traceSock = tmp.path("trace.sock");
    const serve = start(["serve", "edu", "--socket", sock, "--verbose"]);
    await waitFor(() => serve.out().includes("listening on"), "serve to listen", 10_000);
    const trace = start(["trace", "--listen", traceSock, "--connect", sock, "--json", "--once"]);
    await waitFor(() => existsSync(traceSock), "trace to listen", 10_000);

    const direct = await run(["lspci", "--socket", sock, "-vv"]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(
      direct.stdout,
      /^00:00\.0 Unclassified device \[00ff\]: Device 1234:11e8 \(rev 10\)\n/,
    );
    assert.match(
      direct.stdout,
      /\tCapabilities: \[40\] MSI: Enable- Count=1\/1 Maskable- 64bit\+\n/,
    );

    const traced = await run(["lspci", "--socket", traceSock, "-x"]);
    assert.equal(traced.code, 0, traced.stderr);
    assert.match(traced.stdout, /\n00: 34 12 e8 11 /);
    const t = await trace.result;
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const commands = lines.filter((l) => "command" in l).map((l) => `${l.direction} ${l.command}`);
    assert.equal(commands[0], "c2s VFIO_USER_VERSION");
    assert.equal(commands[1], "s2c VFIO_USER_VERSION");
    assert.ok(commands.includes("s2c VFIO_USER_REGION_READ"));
    assert.ok(lines.some((l) => l.event === "close"));

    serve.child.kill("SIGINT");
    const s = await serve.result;
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /read {2}config \+0x0 \[256\]/, "--verbose logs accesses");
    assert.equal(existsSync(sock), false, "the socket file is removed");
  });
});
