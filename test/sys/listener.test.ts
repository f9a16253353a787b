import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { listenUnix, UnixListener } from "../../src/sys/listener.js";
import { native } from "../../src/sys/native.js";
import { connectUnix, connectUnixRetry, type UnixSocket } from "../../src/sys/socket.js";
import { SysError } from "../../src/sys/sys-error.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "vfio-sys-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
const fresh = () => join(dir, `s${seq++}.sock`);

/** Leaves a socket file with nobody listening behind it (a crashed server). */
function staleSocketAt(path: string): void {
  const n = native();
  const fd = n.socket();
  n.bind(fd, path);
  n.close(fd);
}

describe("listenUnix / connectUnix", () => {
  it("listens with mode 0600 and accepts a connection both ways", () => {
    const path = fresh();
    const l = listenUnix(path);
    try {
      const st = statSync(path);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(l.accept(), null);
      const c = connectUnix(path);
      const s = l.accept();
      assert.ok(s);
      c.send([new TextEncoder().encode("hi")]);
      assert.equal(s.recv(new Uint8Array(4), 0)?.bytes, 2);
      assert.equal(s.peerCredentials().pid, process.pid);
      assert.equal(c.peerCredentials().uid, process.getuid!());
      s.close();
      c.close();
    } finally {
      l.close();
    }
    assert.equal(existsSync(path), false, "close removed the socket file");
    assert.equal(l.fd, -1);
    l.close();
  });

  it("honours an explicit mode and leaves no temporary files", () => {
    const sub = join(dir, "mode");
    mkdirSync(sub);
    const l = listenUnix(join(sub, "x.sock"), { mode: 0o660, backlog: 4 });
    try {
      assert.equal(statSync(join(sub, "x.sock")).mode & 0o777, 0o660);
      assert.deepEqual(readdirSync(sub), ["x.sock"]);
    } finally {
      l.close();
    }
    assert.deepEqual(readdirSync(sub), []);
  });

  it("delivers connections through onConnection", async () => {
    const path = fresh();
    const l = listenUnix(path);
    try {
      const got = new Promise<UnixSocket[]>((resolve) => {
        const socks: UnixSocket[] = [];
        l.onConnection((s) => {
          socks.push(s);
          if (socks.length === 3) resolve(socks);
        });
      });
      const clients = [connectUnix(path), connectUnix(path), connectUnix(path)];
      const socks = await got;
      assert.equal(socks.length, 3);
      for (const s of [...socks, ...clients]) s.close();
      l.onConnection(null);
    } finally {
      l.close();
    }
  });

  it("replaces a stale socket file", () => {
    const path = fresh();
    staleSocketAt(path);
    assert.throws(() => connectUnix(path), {
      code: "ECONNREFUSED",
      message: `nothing is listening at ${path}`,
    });
    const l = listenUnix(path);
    try {
      connectUnix(path).close();
      assert.ok(l.accept());
    } finally {
      l.close();
    }
  });

  it("refuses a path owned by a live server (EADDRINUSE) and leaves it working", () => {
    const path = fresh();
    const l = listenUnix(path);
    try {
      assert.throws(
        () => listenUnix(path),
        (e: unknown) =>
          e instanceof SysError && e.code === "EADDRINUSE" && e.message.includes(path),
      );
      l.accept()?.close(); // the probe's connection
      connectUnix(path).close();
      assert.ok(l.accept(), "the first server still owns the path");
    } finally {
      l.close();
    }
  });

  it("never deletes a regular file in the way", () => {
    const path = fresh();
    writeFileSync(path, "precious");
    assert.throws(() => listenUnix(path), { code: "EEXIST" });
    assert.equal(readFileSync(path, "utf8"), "precious");
  });

  it("close leaves alone a socket file that another server has taken over", () => {
    const path = fresh();
    const first = listenUnix(path);
    rmSync(path);
    const second = listenUnix(path);
    first.close();
    assert.ok(existsSync(path));
    connectUnix(path).close();
    assert.ok(second.accept());
    second.close();
    assert.equal(existsSync(path), false);
  });

  it("reports missing sockets, long paths and closed listeners clearly", () => {
    const missing = join(dir, "nobody.sock");
    assert.throws(() => connectUnix(missing), {
      code: "ENOENT",
      errno: 2,
      syscall: "connect",
      message: `no socket at ${missing}`,
    });
    const long = join(dir, "x".repeat(120));
    assert.throws(() => listenUnix(long), { code: "ENAMETOOLONG" });
    assert.throws(() => connectUnix(long), { code: "ENAMETOOLONG" });
    const l = listenUnix(fresh());
    l.close();
    assert.throws(() => l.accept(), { code: "EBADF" });
    assert.ok(l instanceof UnixListener);
  });

  it("connectUnixRetry waits for a server that is not up yet", async () => {
    const path = fresh();
    let l: UnixListener | null = null;
    setTimeout(() => {
      l = listenUnix(path);
    }, 30);
    const c = await connectUnixRetry(path, { timeoutMs: 5000, intervalMs: 5 });
    assert.ok(l);
    const listener = l as UnixListener;
    assert.ok(listener.accept());
    c.close();
    listener.close();
    await assert.rejects(connectUnixRetry(join(dir, "never.sock"), { timeoutMs: 30 }), {
      code: "ENOENT",
    });
  });
});
