import { type CommandCodec, type EmptyBody, emptyBody } from "../codec.js";

/** VFIO_USER_DEVICE_RESET: neither the request nor the reply has a payload. */
export const deviceResetCodec: CommandCodec<EmptyBody, EmptyBody> = {
  request: emptyBody,
  reply: emptyBody,
};
