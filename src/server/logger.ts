import { debuglog } from "node:util";

/**
 * Where the server reports connections, refusals, errors and (with `verbose`) every
 * access. The CLI passes a console logger for `serve --verbose`; the default writes
 * through util.debuglog, so NODE_DEBUG=vfio-server shows it.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
};

export function debuglogLogger(section = "vfio-server"): Logger {
  const log = debuglog(section);
  return {
    info: (m) => log("%s", m),
    warn: (m) => log("warning: %s", m),
    error: (m) => log("error: %s", m),
    debug: (m) => log("%s", m),
  };
}
