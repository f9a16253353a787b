/**
 * Fuzz target: VERSION request and reply (major, minor, the JSON capabilities text), and
 * what each side does with a decoded one: the server's negotiateVersion and the client's
 * checkVersionReply must answer (ok or a failure with an errno), never throw, and a
 * negotiated reply must itself encode and decode.
 */
import {
  Command,
  checkVersionReply,
  decodeReply,
  encodeReply,
  negotiateVersion,
  type VersionMessage,
  VFIO_USER_MAJOR,
  VFIO_USER_MINOR,
} from "../src/protocol/index.js";
import { commandTarget } from "./lib/command-target.js";
import { InconsistentDecode } from "./lib/expect.js";

const POLICY = {
  major: VFIO_USER_MAJOR,
  minor: VFIO_USER_MINOR,
  capabilities: { maxMsgFds: 64, maxDataXferSize: 1 << 20, twinSocket: { supported: true } },
};
const PROPOSAL: VersionMessage = {
  major: VFIO_USER_MAJOR,
  minor: VFIO_USER_MINOR,
  capabilities: { twinSocket: { supported: true }, writeMultiple: true },
};

export const fuzz = commandTarget([Command.VFIO_USER_VERSION], ({ reply, ctx, value }) => {
  const v = value as VersionMessage;
  if (reply) {
    const r = checkVersionReply(PROPOSAL, v, ctx.numFds);
    if (!r.ok && typeof r.errno !== "number") throw new InconsistentDecode("no errno", r);
    return;
  }
  const n = negotiateVersion(POLICY, v, ctx.numFds);
  if (!n.ok) return;
  const back = decodeReply(
    Command.VFIO_USER_VERSION,
    encodeReply(Command.VFIO_USER_VERSION, n.reply),
  );
  if (back.major !== n.reply.major || back.minor !== n.reply.minor) {
    throw new InconsistentDecode("negotiated reply does not round-trip", n.reply);
  }
});
