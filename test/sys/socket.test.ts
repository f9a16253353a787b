import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventFd } from "../../src/sys/eventfd.js";
import { closeFd, dupFd, fdSize } from "../../src/sys/fd.js";
import { MemFd } from "../../src/sys/memfd.js";
import { munmap } from "../../src/sys/mmap.js";
import { native } from "../../src/sys/native.js";
import { socketPair, UnixSocket } from "../../src/sys/socket.js";
import { SysError } from "../../src/sys/sys-error.js";
import { openFdCount } from "../helpers/fds.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function readable(sock: UnixSocket): Promise<void> {
  return new Promise((resolve) =>
    sock.onReadable(() => {
      sock.onReadable(null);
      resolve();
    }),
  );
}

describe("UnixSocket over socketpair", () => {
  it("sends several chunks as one byte stream and reports EAGAIN as null", () => {
    const [a, b] = socketPair();
    try {
      assert.equal(a.send([enc("hello, "), enc(""), enc("world")]), 12);
      const buf = new Uint8Array(64);
      const r = b.recv(buf, 0);
      assert.deepEqual(r, { bytes: 12, fds: [] });
      assert.equal(dec(buf.subarray(0, 12)), "hello, world");
      assert.equal(b.recv(buf, 4), null);
    } finally {
      a.close();
      b.close();
    }
  });

  it("receives into a subarray at its offset", () => {
    const [a, b] = socketPair();
    try {
      a.send([enc("xyz")]);
      const backing = new Uint8Array(16);
      const r = b.recv(backing.subarray(5, 8), 0);
      assert.equal(r?.bytes, 3);
      assert.equal(dec(backing.subarray(5, 8)), "xyz");
      assert.equal(backing[4], 0);
    } finally {
      a.close();
      b.close();
    }
  });

  it("passes an eventfd that refers to the same counter", () => {
    const [a, b] = socketPair();
    const efd = EventFd.create();
    try {
      assert.equal(a.send([enc("e")], [efd.fd]), 1);
      const r = b.recv(new Uint8Array(8), 1);
      assert.equal(r?.fds.length, 1);
      const received = new EventFd(r!.fds[0]!);
      assert.notEqual(received.fd, efd.fd);
      received.signal(5n);
      assert.equal(efd.read(), 5n);
      received.close();
    } finally {
      efd.close();
      a.close();
      b.close();
    }
  });

  it("passes a memfd whose mapping shares bytes with the sender's", () => {
    const [a, b] = socketPair();
    const mem = MemFd.create("shared", 4096);
    try {
      const mine = new Uint8Array(mem.map(0, 4096));
      a.send([enc("m")], [mem.fd]);
      const r = b.recv(new Uint8Array(8), 1)!;
      const theirs = new MemFd(r.fds[0]!);
      assert.equal(theirs.size, 4096n);
      const view = new Uint8Array(theirs.map(0, 4096));
      mine[100] = 0xab;
      assert.equal(view[100], 0xab);
      view[200] = 0xcd;
      assert.equal(mine[200], 0xcd);
      munmap(view.buffer as ArrayBuffer);
      munmap(mine.buffer as ArrayBuffer);
      theirs.close();
    } finally {
      mem.close();
      a.close();
      b.close();
    }
  });

  it("passes a socket that keeps working at the other end", () => {
    const [a, b] = socketPair();
    const [c, d] = socketPair();
    try {
      a.send([enc("s")], [d.fd]);
      d.close();
      const r = b.recv(new Uint8Array(8), 1)!;
      const d2 = new UnixSocket(r.fds[0]!);
      c.send([enc("ping")]);
      const buf = new Uint8Array(8);
      assert.equal(d2.recv(buf, 0)?.bytes, 4);
      assert.equal(dec(buf.subarray(0, 4)), "ping");
      d2.close();
    } finally {
      for (const s of [a, b, c]) s.close();
    }
  });

  it("carries 253 fds in one message, in order", () => {
    const [a, b] = socketPair();
    const mems = Array.from({ length: 253 }, (_, i) => MemFd.create(`m${i}`, (i + 1) * 4096));
    try {
      assert.equal(
        a.send(
          [enc("many")],
          mems.map((m) => m.fd),
        ),
        4,
      );
      const r = b.recv(new Uint8Array(8), 253)!;
      assert.equal(r.fds.length, 253);
      r.fds.forEach((fd, i) => {
        assert.equal(fdSize(fd), BigInt((i + 1) * 4096));
      });
      for (const fd of r.fds) closeFd(fd);
    } finally {
      for (const m of mems) m.close();
      a.close();
      b.close();
    }
  });

  it("closes truncated fds and throws EPROTO on MSG_CTRUNC", () => {
    const [a, b] = socketPair();
    const efd = EventFd.create();
    const dups = Array.from({ length: 5 }, () => dupFd(efd.fd));
    try {
      const before = openFdCount();
      a.send([enc("x")], dups);
      a.send([enc("y")], dups);
      assert.throws(
        () => b.recv(new Uint8Array(1), 2),
        (err: unknown) =>
          err instanceof SysError &&
          err.code === "EPROTO" &&
          err.errno === 71 &&
          err.syscall === "recvmsg" &&
          /MSG_CTRUNC/.test(err.message),
      );
      assert.equal(openFdCount(), before, "the 2 fds that did arrive were closed");
      assert.throws(() => b.recv(new Uint8Array(1), 0), { code: "EPROTO" });
      assert.equal(openFdCount(), before);
    } finally {
      for (const fd of dups) closeFd(fd);
      efd.close();
      a.close();
      b.close();
    }
  });

  it("treats fds beyond maxFds as truncation even when alignment padding let them in", () => {
    // With maxFds odd, CMSG_SPACE rounds the control buffer up to a whole 8 bytes, so the
    // kernel can hand over one fd more than asked without setting MSG_CTRUNC.
    const [a, b] = socketPair();
    const efd = EventFd.create();
    const dups = [dupFd(efd.fd), dupFd(efd.fd)];
    try {
      const before = openFdCount();
      a.send([enc("x")], dups);
      assert.throws(() => b.recv(new Uint8Array(1), 1), { code: "EPROTO" });
      assert.equal(openFdCount(), before, "the fd that arrived was closed");
    } finally {
      for (const fd of dups) closeFd(fd);
      efd.close();
      a.close();
      b.close();
    }
  });

  it("reports a full socket with short/zero sends and wakes onWritable once drained", async () => {
    const [a, b] = socketPair();
    try {
      const chunk = new Uint8Array(65536).fill(7);
      let sent = 0;
      let n: number;
      let sawShort = false;
      for (let i = 0; i < 10_000; i++) {
        n = a.send([chunk]);
        sent += n;
        if (n < chunk.length) sawShort = true;
        if (n === 0) break;
      }
      assert.ok(sawShort);
      assert.equal(a.send([chunk]), 0, "a full socket accepts nothing");
      const writable = new Promise<number>((resolve) => {
        let calls = 0;
        a.onWritable(() => resolve(++calls));
      });
      const buf = new Uint8Array(65536);
      let got = 0;
      for (let r = b.recv(buf, 0); r !== null; r = b.recv(buf, 0)) {
        assert.ok(buf.subarray(0, r.bytes).every((x) => x === 7));
        got += r.bytes;
      }
      assert.equal(got, sent);
      assert.equal(await writable, 1);
      assert.ok(a.send([chunk]) > 0);
    } finally {
      a.close();
      b.close();
    }
  });

  it("delivers readiness through the event loop, then EOF as 0 bytes", async () => {
    const [a, b] = socketPair();
    try {
      const ready = readable(b);
      setImmediate(() => a.send([enc("later")]));
      await ready;
      assert.equal(b.recv(new Uint8Array(16), 0)?.bytes, 5);
      const hup = readable(b);
      a.close();
      await hup;
      assert.deepEqual(b.recv(new Uint8Array(16), 0), { bytes: 0, fds: [] });
    } finally {
      b.close();
    }
  });

  it("leaks no fd over 10,000 cycles each carrying an fd", () => {
    const [a, b] = socketPair();
    const efd = EventFd.create();
    const msg = new Uint8Array(16);
    const buf = new Uint8Array(16);
    try {
      const before = openFdCount();
      for (let i = 0; i < 10_000; i++) {
        assert.equal(a.send([msg], [efd.fd]), 16);
        const r = b.recv(buf, 4);
        if (r === null || r.bytes !== 16 || r.fds.length !== 1) assert.fail(`cycle ${i}: ${r}`);
        closeFd(r.fds[0]!);
      }
      assert.equal(openFdCount(), before);
    } finally {
      efd.close();
      a.close();
      b.close();
    }
  });

  it("raises errno-named errors", () => {
    const [a, b] = socketPair();
    b.close();
    assert.throws(() => a.send([enc("x")]), { code: "EPIPE", errno: 32, syscall: "sendmsg" });
    a.close();
    assert.throws(() => a.send([enc("x")]), { code: "EBADF" });
    assert.throws(() => a.recv(new Uint8Array(1), 0), { code: "EBADF" });
    const [c, d] = socketPair();
    const stale = new UnixSocket(c.detach());
    closeFd(stale.fd);
    assert.throws(
      () => stale.send([enc("x")]),
      (e: unknown) => {
        return (
          e instanceof SysError && e.code === "EBADF" && e.errno === 9 && e.syscall === "sendmsg"
        );
      },
    );
    assert.throws(() => closeFd(stale.fd), { code: "EBADF", syscall: "close" });
    stale.detach();
    d.close();
  });

  it("close and detach are idempotent and detach keeps the fd open", () => {
    const [a, b] = socketPair();
    a.onReadable(() => {});
    const fd = a.detach();
    assert.equal(a.closed, true);
    assert.equal(a.fd, -1);
    assert.equal(a.detach(), -1);
    const again = new UnixSocket(fd);
    b.send([enc("k")]);
    assert.equal(again.recv(new Uint8Array(4), 0)?.bytes, 1);
    again.close();
    again.close();
    b.close();
  });

  it("rejects bad arguments with TypeError/RangeError instead of crashing", () => {
    const [a, b] = socketPair();
    const n = native();
    try {
      assert.throws(() => b.recv(new Uint8Array(1), 254), RangeError);
      assert.throws(() => b.recv(new Uint8Array(0), 0), RangeError);
      assert.throws(() => a.send("x" as unknown as Uint8Array[]), TypeError);
      assert.throws(() => a.send(["x" as unknown as Uint8Array]), TypeError);
      assert.throws(() => a.send([new Uint8Array(0)], [a.fd]), RangeError);
      assert.throws(() => a.send([enc("x")], [-1]), RangeError);
      assert.throws(() => a.send([enc("x")], new Array(254).fill(a.fd)), RangeError);
      assert.throws(() => n.close(-1), RangeError);
      assert.throws(() => n.close(1.5), RangeError);
      assert.throws(() => n.close("3" as unknown as number), TypeError);
      assert.throws(() => n.pollStart({} as never, 1), TypeError);
    } finally {
      a.close();
      b.close();
    }
  });
});
