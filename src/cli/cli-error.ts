/**
 * What the command line tells a user when something fails: one clear sentence,
 * no stack trace, and an exit code that says which kind of failure it was.
 */
import { lstatSync } from "node:fs";
import { VfioError } from "../errors.js";

/** Success. */
export const EXIT_OK = 0;
/** The command ran and failed (no server, refused, protocol mismatch, device error). */
export const EXIT_FAILURE = 1;
/** Bad command line (unknown option, missing argument, unknown device name). */
export const EXIT_USAGE = 2;
/**
 * The device module cannot be served: TypeScript source, a syntax error, no default export,
 * an export that is not a device, a factory or definition that throws.
 */
export const EXIT_BAD_DEVICE = 3;
/** A second SIGINT/SIGTERM while shutting down. */
export const EXIT_INTERRUPTED = 130;

/** An error whose message is already meant for the user. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = EXIT_FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Explains a failure to reach or talk to the vfio-user server at `path`: a missing
 * socket, a refused connection, a busy server, a peer with another protocol version
 * or no vfio-user at all.
 */
export function explainConnectError(err: unknown, path: string): CliError {
  if (err instanceof CliError) return err;
  const msg = messageOf(err);
  const code = codeOf(err);
  // connect(2) on a file that is not a socket fails with ECONNREFUSED: say what it is.
  const kind = code === "ECONNREFUSED" || code === "ENOTSOCK" ? fileKind(path) : undefined;
  if (kind !== undefined) {
    return new CliError(`${path} is not a socket but ${kind}`, EXIT_FAILURE, { cause: err });
  }
  switch (code) {
    case "ENOENT":
      return new CliError(`no vfio-user server at ${path} (no such socket)`, EXIT_FAILURE, {
        cause: err,
      });
    case "ECONNREFUSED":
      return new CliError(
        `connection refused at ${path}: nothing is listening there (a stale socket file?)`,
        EXIT_FAILURE,
        { cause: err },
      );
    case "ENOTSOCK":
      return new CliError(`${path} is not a socket`, EXIT_FAILURE, { cause: err });
    case "EACCES":
    case "EPERM":
      return new CliError(`permission denied connecting to ${path}`, EXIT_FAILURE, { cause: err });
    case "EBUSY":
      return new CliError(
        `the vfio-user server at ${path} is busy: another client is connected`,
        EXIT_FAILURE,
        { cause: err },
      );
    case "EPROTONOSUPPORT":
      return new CliError(
        `the server at ${path} speaks another vfio-user protocol version: ${msg}`,
        EXIT_FAILURE,
        { cause: err },
      );
    case "EPROTO":
    case "EMSGSIZE":
    case "EBADMSG":
    case "EINVAL":
    case "ECONNRESET":
      return new CliError(
        `the peer at ${path} does not speak vfio-user as we do: ${msg}`,
        EXIT_FAILURE,
        { cause: err },
      );
    case "ETIMEDOUT":
      return new CliError(`no answer from ${path}: ${msg}`, EXIT_FAILURE, { cause: err });
    default:
      return new CliError(`${path}: ${msg}`, EXIT_FAILURE, { cause: err });
  }
}

/** "a regular file", "a directory", ...; undefined for a socket or a missing path. */
function fileKind(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    if (st.isSocket()) return undefined;
    if (st.isFile()) return "a regular file";
    if (st.isDirectory()) return "a directory";
    if (st.isFIFO()) return "a FIFO";
    if (st.isSymbolicLink()) return "a symbolic link to something else";
    return "a device file";
  } catch {
    return undefined;
  }
}

/** The one line printed for any error that reaches the top level. */
export function describeError(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (err instanceof VfioError) return `${err.message} (${err.code})`;
  return messageOf(err);
}

export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : EXIT_FAILURE;
}
