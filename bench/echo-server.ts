/**
 * Entry: the baseline's far end. Echoes every byte it receives on each connection,
 * using the same native sockets and event-loop integration (src/sys) as vfio-user.
 */
import { parseArgs } from "node:util";
import { listenUnix, type StreamSocket } from "../src/sys/index.js";

const { values } = parseArgs({ options: { socket: { type: "string" } }, strict: false });
if (typeof values.socket !== "string") {
  process.stderr.write("usage: node echo-server.js --socket <path>\n");
  process.exit(2);
}
const listener = listenUnix(values.socket);
const buf = new Uint8Array(64 * 1024);

function serve(sock: StreamSocket): void {
  sock.onReadable(() => {
    for (;;) {
      let r: ReturnType<StreamSocket["recv"]>;
      try {
        r = sock.recv(buf, 0);
      } catch {
        sock.close();
        return;
      }
      if (r === null) return;
      if (r.bytes === 0) {
        sock.close();
        return;
      }
      // Ping-pong keeps a few bytes in flight, far below the socket buffer: sends complete.
      sock.send([buf.subarray(0, r.bytes)]);
    }
  });
}

listener.onConnection(serve);
const stop = () => {
  listener.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
