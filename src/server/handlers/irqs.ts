import type { SetIrqsRequest } from "../../protocol/index.js";
import { checkEventFds } from "../irqs/eventfd-wrapper.js";
import type { IrqSetData } from "../irqs/set-irqs.js";
import type { HandlerContext, Reply } from "./context.js";

/**
 * SET_IRQS. Descriptors must be eventfds; the controller applies the request
 * atomically, so the fds become the controller's only when it succeeds (otherwise the
 * session closes them with the rest of the message).
 */
export function setIrqs(ctx: HandlerContext, req: SetIrqsRequest): Reply {
  let data: IrqSetData;
  if (req.data === "eventfd") {
    checkEventFds(ctx.fds);
    data = { kind: "eventfd", fds: ctx.fds };
  } else if (req.data === "bool") {
    data = { kind: "bool", values: req.bools ?? new Uint8Array(0) };
  } else {
    data = { kind: "none" };
  }
  ctx.core.irqs.setIrqs({
    index: req.index,
    start: req.start,
    count: req.count,
    action: req.action,
    data,
  });
  if (data.kind === "eventfd") ctx.takeFds();
  if (ctx.verbose) {
    ctx.log.debug(
      `SET_IRQS index ${req.index} ${req.action}/${req.data} [${req.start}, +${req.count})` +
        `${ctx.fds.length ? ` with ${ctx.fds.length} eventfds` : ""} -> mode ${ctx.core.irqs.mode}`,
    );
  }
  return {};
}
