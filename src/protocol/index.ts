/**
 * vfio-user wire format (spec 0.9.2): pure, synchronous codecs. Every decoder validates
 * sizes, counts, offsets and argsz and throws only ProtocolError (with an errno).
 * Decoded data fields are views into the received bytes (no copy).
 *
 * @module
 */
export * from "./argsz.js";
export {
  type BodyCodec,
  type CommandCodec,
  type DecodeContext,
  type DecodeOptions,
  type DmaRwLayout,
  dirtyBitmapSize,
  type EmptyBody,
  type EncodeOptions,
} from "./codec.js";
export * from "./constants.js";
export * from "./header.js";
export * from "./message.js";
export * from "./messages/capabilities.js";
export * from "./messages/device-feature.js";
export {
  DEVICE_INFO_SIZE,
  type DeviceInfoReply,
  type DeviceInfoRequest,
  deviceInfoCodec,
} from "./messages/device-info.js";
export * from "./messages/dma-map.js";
export * from "./messages/dma-rw.js";
export {
  type DmaLoggingRange,
  type FeatureData,
  type FeatureDataKind,
  featureDataKind,
  featureDataSize,
} from "./messages/feature-data.js";
export * from "./messages/index.js";
export * from "./messages/irq-info.js";
export * from "./messages/mig-data.js";
export type { RegionCap, SparseMmapArea } from "./messages/region-caps.js";
export * from "./messages/region-info.js";
export * from "./messages/region-io-fds.js";
export * from "./messages/region-rw.js";
export * from "./messages/region-write-multi.js";
export * from "./messages/set-irqs.js";
export * from "./messages/version.js";
export * from "./negotiate.js";
export * from "./protocol-error.js";
export { Reader } from "./reader.js";
export { checkU64, checkUint, Writer } from "./writer.js";
