import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { EventFd } from "../../src/sys/eventfd.js";
import { FdPoller } from "../../src/sys/poll.js";
import { socketPair, UnixSocket } from "../../src/sys/socket.js";

const sysIndex = new URL("../../src/sys/index.js", import.meta.url).href;

/** Runs an ES module snippet in a fresh node that has `sys` imported. */
function runChild(body: string): { status: number | null; stdout: string; stderr: string } {
  const src = `import * as sys from ${JSON.stringify(sysIndex)};\n${body}`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", src], {
    encoding: "utf8",
    timeout: 8000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readableOnce(s: UnixSocket): Promise<void> {
  return new Promise((resolve) =>
    s.onReadable(() => {
      s.onReadable(null);
      resolve();
    }),
  );
}

describe("FdPoller", () => {
  it("fires readable and one-shot writable on a socket", async () => {
    const [a, b] = socketPair();
    const p = new FdPoller(a.fd);
    try {
      let writableCalls = 0;
      await new Promise<void>((resolve) =>
        p.onWritable(() => {
          writableCalls++;
          resolve();
        }),
      );
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(writableCalls, 1, "writable interest is one-shot");
      const readable = new Promise<void>((resolve) => p.onReadable(resolve));
      b.send([new Uint8Array([1])]);
      await readable;
      p.onReadable(null);
      assert.equal(a.recv(new Uint8Array(1), 0)?.bytes, 1);
    } finally {
      p.close();
      p.close();
      a.close();
      b.close();
    }
    assert.throws(() => p.onReadable(() => {}), { code: "EBADF" });
  });

  it("lets a callback close its own poller and fd", async () => {
    const e = EventFd.create();
    let calls = 0;
    await new Promise<void>((resolve) => {
      e.onReadable(() => {
        calls++;
        e.close();
        setImmediate(resolve);
      });
      e.signal();
    });
    assert.equal(calls, 1);
    assert.equal(e.closed, true);
  });

  it("watches a reused fd number right after the old watcher closed", async () => {
    const [a, b] = socketPair();
    let oldFired = false;
    a.onReadable(() => {
      oldFired = true;
    });
    const oldFd = a.fd;
    a.close();
    b.close();
    const [c, d] = socketPair();
    assert.equal(c.fd, oldFd, "the kernel handed out the same number");
    const fired = readableOnce(c);
    d.send([new Uint8Array([1])]);
    await fired;
    const again = new UnixSocket(c.detach());
    const firedAgain = readableOnce(again);
    d.send([new Uint8Array([2])]);
    await firedAgain;
    assert.equal(again.recv(new Uint8Array(4), 0)?.bytes, 2);
    assert.equal(oldFired, false);
    again.close();
    d.close();
  });

  it("refuses fds epoll cannot watch", () => {
    const fd = openSync(fileURLToPath(import.meta.url), "r");
    try {
      assert.throws(() => new FdPoller(fd), { code: "EPERM", syscall: "uv_poll_init" });
    } finally {
      closeSync(fd);
    }
  });

  it("keeps the process alive while ref'ed", () => {
    const r = runChild(`
      const [a, b] = sys.socketPair();
      a.onReadable(() => { console.log("got"); a.close(); b.close(); });
      setTimeout(() => b.send([new Uint8Array([1])]), 20).unref();
    `);
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), "got");
  });

  it("does not keep the process alive once unref'ed", () => {
    const r = runChild(`
      const [a, b] = sys.socketPair();
      a.onReadable(() => console.log("got"));
      a.unref();
      setTimeout(() => b.send([new Uint8Array([1])]), 20).unref();
      process.on("exit", () => console.log("exit"));
    `);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), "exit");
  });

  it("surfaces an exception thrown by a callback as uncaught", () => {
    const r = runChild(`
      const e = sys.EventFd.create();
      e.onReadable(() => { throw new Error("boom from poll"); });
      e.signal();
    `);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /boom from poll/);
  });
});
