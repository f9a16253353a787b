/** The `vfio-ts trace` proxy and its record formats. */
export { type DecodeResult, decodeForTrace } from "./decode.js";
export {
  flagsText,
  formatEventJson,
  formatEventText,
  formatRecordJson,
  formatRecordText,
  rawMessage,
  recordToJson,
  textFields,
} from "./format.js";
export { LatencyTracker } from "./latency.js";
export { TraceProxy, type TraceProxyOptions } from "./proxy.js";
export type { ChannelName, Direction, SessionEvent, TraceRecord } from "./record.js";
export { ProxySession } from "./session.js";
