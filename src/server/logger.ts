import { debuglog } from "node:util";

/**
 * Where the server reports connections, refusals, errors and (with `verbose`) every
 * access. The CLI passes a console logger for `serve --verbose`; the default writes
 * through util.debuglog, so NODE_DEBUG=vfio-server shows it.
 */
export interface Logger {
  /** A connection or a lifecycle step. */
  info(message: string): void;
  /** Something a peer did wrong; the server carries on. */
  warn(message: string): void;
  /** Something failed. */
  error(message: string): void;
  /** Per-access detail (with `verbose`). */
  debug(message: string): void;
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
};

/** A logger over util.debuglog(section): shown with NODE_DEBUG=section. */
export function debuglogLogger(section = "vfio-server"): Logger {
  const log = debuglog(section);
  return {
    info: (m) => log("%s", m),
    warn: (m) => log("warning: %s", m),
    error: (m) => log("error: %s", m),
    debug: (m) => log("%s", m),
  };
}
