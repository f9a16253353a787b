import { VfioError } from "../../src/errors.js";

/** For assert.rejects/throws: the error is a VfioError with errno name `code`. */
export const isCode =
  (code: string) =>
  (e: unknown): boolean =>
    e instanceof VfioError && e.code === code;
