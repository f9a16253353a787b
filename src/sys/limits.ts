/** Resource limits that bound what vfio-ts may pin. */
import { native } from "./native.js";

/** RLIMIT_MEMLOCK in bytes; "unlimited" stands for RLIM_INFINITY. */
export interface MemlockLimit {
  soft: bigint | "unlimited";
  hard: bigint | "unlimited";
}

/** This process's RLIMIT_MEMLOCK, which bounds how much memory VFIO may pin. */
export function memlockLimit(): MemlockLimit {
  const [soft, hard] = native().memlockLimit();
  return { soft: soft ?? "unlimited", hard: hard ?? "unlimited" };
}
