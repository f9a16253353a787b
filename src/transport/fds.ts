/** Closing fds the transport owns and nobody will take: see closeFdsQuietly. */
export { closeFdsQuietly as closeFds } from "../sys/fd.js";
