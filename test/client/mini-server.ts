/**
 * A deliberately misbehaving vfio-user server for the client's untrusted-server tests,
 * run in its own process:
 *
 *   node dist/test/client/mini-server.js <socket-path> [--bad-version | --garbage-version | --huge-regions
 *     | --silent | --loop-caps | --huge-region-size | --stray-fds]
 *
 * It speaks raw frames over the socket (no transport layer) so it can send anything.
 * It negotiates and answers the open sequence correctly, then answers REGION_READ of
 * BAR2 according to the offset read (BOGUS below), plus fixed misbehaviours for some
 * region and IRQ infos and for DMA_UNMAP. Prints "ready <pid>".
 */
import { Buffer } from "node:buffer";
import {
  Command,
  decodeHeader,
  decodeRequest,
  encodeMessage,
  encodeReply,
  encodeReplyMessage,
  encodeRequest,
  HEADER_SIZE,
  negotiateVersion,
  peekMessageSize,
  VFIO_USER_F_TYPE_REPLY,
} from "../../src/protocol/index.js";
import { closeFd, listenUnix, MemFd, type UnixSocket } from "../../src/sys/index.js";
import { BOGUS } from "./mini-server-modes.js";

const args = process.argv.slice(2);
const path = args[0]!;
const mode = args[1] ?? "";

class RawPeer {
  #buf = Buffer.alloc(0);
  #out: { bytes: Uint8Array; fds: number[] }[] = [];
  #nextId = 0x4000;
  lastClientErrno = 0;

  constructor(readonly sock: UnixSocket) {
    sock.onReadable(() => this.#read());
  }

  #read(): void {
    const scratch = new Uint8Array(65536);
    for (;;) {
      let r: ReturnType<UnixSocket["recv"]>;
      try {
        r = this.sock.recv(scratch, 16);
      } catch {
        this.sock.close();
        return;
      }
      if (r === null) break;
      if (r.bytes === 0) {
        this.sock.close();
        return;
      }
      for (const fd of r.fds) closeFd(fd);
      this.#buf = Buffer.concat([this.#buf, scratch.subarray(0, r.bytes)]);
    }
    while (this.#buf.length >= HEADER_SIZE) {
      const size = peekMessageSize(this.#buf);
      if (this.#buf.length < size) break;
      const msg = new Uint8Array(this.#buf.subarray(0, size));
      this.#buf = this.#buf.subarray(size);
      this.#handle(msg);
    }
  }

  send(bytes: Uint8Array, fds: number[] = []): void {
    this.#out.push({ bytes, fds });
    this.#flush();
  }

  #flush(): void {
    while (this.#out.length > 0 && !this.sock.closed) {
      const head = this.#out[0]!;
      const n = this.sock.send([head.bytes], head.fds);
      if (n === 0) {
        this.sock.onWritable(() => {
          this.sock.onWritable(null);
          this.#flush();
        });
        return;
      }
      head.fds = [];
      if (n < head.bytes.byteLength) head.bytes = head.bytes.subarray(n);
      else this.#out.shift();
    }
  }

  reply(id: number, command: number, body: Uint8Array, fds: number[] = []): void {
    this.send(encodeMessage({ id, command, flags: VFIO_USER_F_TYPE_REPLY }, body), fds);
  }

  #handle(msg: Uint8Array): void {
    const h = decodeHeader(msg);
    const body = msg.subarray(HEADER_SIZE);
    if ((h.flags & 0xf) === VFIO_USER_F_TYPE_REPLY) {
      // A reply to our DMA_READ: remember the errno the client answered with.
      this.lastClientErrno = h.flags & 0x20 ? h.error : 0;
      return;
    }
    switch (h.command) {
      case Command.VFIO_USER_VERSION: {
        if (mode === "--silent") return; // never answers: the client must time out
        const proposal = decodeRequest(Command.VFIO_USER_VERSION, body);
        if (mode === "--garbage-version") {
          this.reply(h.id, h.command, Uint8Array.of(0, 0, 1, 0, 0x7b, 0x7b));
          return;
        }
        const n = negotiateVersion(
          { major: 0, minor: 1, capabilities: { maxMsgFds: 8 } },
          proposal,
        );
        if (!n.ok) throw new Error(n.reason);
        const reply = mode === "--bad-version" ? { ...n.reply, major: 1 } : n.reply;
        this.send(encodeReplyMessage(h.id, Command.VFIO_USER_VERSION, reply));
        return;
      }
      case Command.VFIO_USER_DEVICE_GET_INFO:
        this.send(
          encodeReplyMessage(h.id, h.command, {
            argsz: 16,
            flags: 3,
            numRegions: mode === "--huge-regions" ? 100000 : 9,
            numIrqs: 5,
          }),
        );
        return;
      case Command.VFIO_USER_DEVICE_GET_REGION_INFO: {
        const req = decodeRequest(h.command, body);
        const base = {
          argsz: 32,
          flags: 3,
          index: req.index,
          size:
            mode === "--huge-region-size" && req.index === 0 ? 0xffff_ffff_ffff_ffffn : 0x10000n,
          offset: 0n,
          caps: [],
        };
        // The default mode's BARs 3-5 lie (for the client's own tests); the modes that
        // test something else answer them plainly.
        const lies = !["--loop-caps", "--stray-fds", "--huge-region-size"].includes(mode);
        if (!lies && req.index !== 7) {
          this.send(encodeReplyMessage(h.id, h.command, base));
        } else if (req.index === 3) {
          this.send(encodeReplyMessage(h.id, h.command, { ...base, index: 4 }));
        } else if (req.index === 4) {
          const memfd = MemFd.create("mini-bar4", 4096);
          const info = {
            ...base,
            flags: 0xf,
            argsz: 32 + 8 + 24,
            caps: [{ kind: "sparse-mmap" as const, areas: [{ offset: 0n, size: 0x100000n }] }],
          };
          this.send(encodeReplyMessage(h.id, h.command, info), [memfd.fd]);
          memfd.close();
        } else if (req.index === 5) {
          this.send(encodeReplyMessage(h.id, h.command, { ...base, argsz: 1 << 20 }));
        } else {
          this.send(
            encodeReplyMessage(h.id, h.command, {
              ...base,
              size: req.index === 7 ? 256n : base.size,
            }),
          );
        }
        return;
      }
      case Command.VFIO_USER_DEVICE_GET_IRQ_INFO: {
        const req = decodeRequest(h.command, body);
        const count = req.index === 2 ? 100000 : 1;
        const index = req.index === 1 ? 3 : req.index;
        this.send(encodeReplyMessage(h.id, h.command, { argsz: 16, flags: 1, index, count }));
        return;
      }
      case Command.VFIO_USER_REGION_READ:
        this.#regionRead(h.id, decodeRequest(h.command, body));
        return;
      case Command.VFIO_USER_REGION_WRITE: {
        const req = decodeRequest(h.command, body);
        this.send(
          encodeReplyMessage(h.id, h.command, {
            offset: req.offset,
            region: req.region,
            count: req.data.byteLength,
          }),
        );
        return;
      }
      case Command.VFIO_USER_DMA_MAP:
        this.send(encodeReplyMessage(h.id, h.command, {}));
        return;
      case Command.VFIO_USER_DMA_UNMAP: {
        const req = decodeRequest(h.command, body);
        const echo = {
          argsz: req.argsz,
          flags: req.flags,
          address: req.address + 0x1000n,
          size: req.size,
        };
        this.send(encodeReplyMessage(h.id, h.command, echo));
        return;
      }
      default:
        this.send(encodeReplyMessage(h.id, Command.VFIO_USER_DEVICE_RESET, {}));
    }
  }

  #regionRead(id: number, req: { offset: bigint; region: number; count: number }): void {
    const cmd = Command.VFIO_USER_REGION_READ;
    const data = new Uint8Array(req.count);
    if (req.region === 7 && mode === "--loop-caps") {
      // A PCI header whose capability list loops: 0x40 -> 0x50 -> 0x40 -> ...
      const cfg = new Uint8Array(256);
      cfg.set([0x34, 0x12, 0x78, 0x56], 0);
      cfg[0x06] = 0x10; // status: capability list
      cfg[0x34] = 0x40;
      cfg.set([0x09, 0x50], 0x40);
      cfg.set([0x09, 0x40], 0x50);
      data.set(cfg.subarray(Number(req.offset), Number(req.offset) + req.count));
    }
    if (req.region !== 2) {
      const fds: number[] = [];
      if (mode === "--stray-fds") fds.push(MemFd.create("mini-stray", 4096).fd);
      this.reply(id, cmd, encodeReply(cmd, { offset: req.offset, region: req.region, data }), fds);
      for (const fd of fds) closeFd(fd);
      return;
    }
    const off = Number(req.offset);
    switch (off) {
      case BOGUS.SHORT:
        this.reply(id, cmd, encodeReply(cmd, { ...req, data: data.subarray(0, 2) }));
        break;
      case BOGUS.WRONG_OFFSET:
        this.reply(id, cmd, encodeReply(cmd, { ...req, offset: req.offset + 4n, data }));
        break;
      case BOGUS.WRONG_REGION:
        this.reply(id, cmd, encodeReply(cmd, { ...req, region: 0, data }));
        break;
      case BOGUS.WRONG_COMMAND:
        this.reply(id, Command.VFIO_USER_DEVICE_GET_INFO, encodeReply(cmd, { ...req, data }));
        break;
      case BOGUS.GARBAGE:
        this.reply(id, cmd, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
        break;
      case BOGUS.WITH_FD: {
        const memfd = MemFd.create("mini-stray", 4096);
        this.reply(id, cmd, encodeReply(cmd, { ...req, data }), [memfd.fd]);
        memfd.close();
        break;
      }
      case BOGUS.STRAY_REPLY:
        // A reply nobody asked for, then the real one.
        this.reply(0xfff0, cmd, encodeReply(cmd, { ...req, data }));
        this.reply(id, cmd, encodeReply(cmd, { ...req, data: data.fill(0x77) }));
        break;
      case BOGUS.DMA_READ_HUGE:
      case BOGUS.DMA_READ_UNMAPPED: {
        const count = off === BOGUS.DMA_READ_HUGE ? 64 << 20 : 16;
        this.send(
          encodeMessage(
            { id: this.#nextId++, command: Command.VFIO_USER_DMA_READ },
            encodeRequest(Command.VFIO_USER_DMA_READ, { address: 0x9000_0000n, count }),
          ),
        );
        this.reply(id, cmd, encodeReply(cmd, { ...req, data }));
        break;
      }
      case BOGUS.LAST_CLIENT_ERRNO:
        new DataView(data.buffer).setUint32(0, this.lastClientErrno, true);
        this.reply(id, cmd, encodeReply(cmd, { ...req, data }));
        break;
      case BOGUS.HUGE_HEADER: {
        const bytes = encodeMessage(
          { id, command: cmd, flags: VFIO_USER_F_TYPE_REPLY },
          new Uint8Array(16),
        );
        new DataView(bytes.buffer).setUint32(4, 0x7fffffff, true);
        this.send(bytes);
        break;
      }
      default:
        this.reply(id, cmd, encodeReply(cmd, { ...req, data }));
    }
  }
}

const listener = listenUnix(path);
listener.onConnection((sock) => {
  new RawPeer(sock as UnixSocket);
});
process.on("SIGTERM", () => {
  listener.close();
  process.exit(0);
});
process.stdout.write(`ready ${process.pid}\n`);
