/**
 * Fuzz target: REGION_INFO request and reply with their capability chains (sparse mmap,
 * type, raw), and the client's reading of a reply (toRegionInfo), which must fail only
 * with a VfioError. A reply's mmap areas must come from its sparse-mmap capability, or be
 * one area covering the region, or none.
 */
import { toRegionInfo } from "../src/client/region-info-decode.js";
import { VfioError } from "../src/errors.js";
import { Command, type RegionInfoReply } from "../src/protocol/index.js";
import { commandTarget } from "./lib/command-target.js";
import { InconsistentDecode } from "./lib/expect.js";

const FAKE_FD = 1000;

export const fuzz = commandTarget([Command.VFIO_USER_DEVICE_GET_REGION_INFO], (d) => {
  if (!d.reply) return;
  const v = d.value as RegionInfoReply;
  let info: ReturnType<typeof toRegionInfo>;
  try {
    info = toRegionInfo(v, d.ctx.numFds > 0 ? FAKE_FD : -1);
  } catch (err) {
    if (err instanceof VfioError) return;
    throw err;
  }
  const sparse = v.caps.find((c) => c.kind === "sparse-mmap");
  const expected = sparse?.kind === "sparse-mmap" ? sparse.areas.length : v.size > 0n ? 1 : 0;
  if (info.mmapAreas.length !== 0 && info.mmapAreas.length !== expected) {
    throw new InconsistentDecode("mmap areas do not come from the reply", v);
  }
  if (info.caps.some((c) => c.kind === "sparse-mmap")) {
    throw new InconsistentDecode("sparse-mmap left among the other capabilities", v);
  }
});
