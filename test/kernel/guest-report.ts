/** Reads what the guest reported: its tests' results and its script's exit status. */

import { type GuestDiagnostic, type GuestTestResult, REPORT_MARKER } from "./guest/reporter.js";
import { EXIT_MARKER } from "./guest-image.js";

export interface GuestReport {
  readonly results: GuestTestResult[];
  /** t.diagnostic messages and the run's summary, in order. */
  readonly diagnostics: string[];
  /** The run script's exit status, or undefined when the guest never got there. */
  readonly exitStatus: number | undefined;
}

/** Parses the serial console; lines that are not ours (kernel messages) are skipped. */
export function parseGuestReport(console: string): GuestReport {
  const results: GuestTestResult[] = [];
  const diagnostics: string[] = [];
  let exitStatus: number | undefined;
  for (const raw of console.split(/\r?\n/)) {
    const at = raw.indexOf(REPORT_MARKER);
    if (at >= 0) {
      const json = raw.slice(at + REPORT_MARKER.length).trim();
      let r: GuestTestResult | GuestDiagnostic;
      try {
        r = JSON.parse(json) as GuestTestResult | GuestDiagnostic;
      } catch {
        throw new Error(`garbled guest report line: ${raw}`);
      }
      if ("diagnostic" in r) {
        diagnostics.push(String(r.diagnostic));
        continue;
      }
      if (typeof r.name !== "string" || typeof r.ok !== "boolean") {
        throw new Error(`malformed guest report: ${json}`);
      }
      results.push(r);
      continue;
    }
    const m = new RegExp(`${EXIT_MARKER} (\\d+)`).exec(raw);
    if (m !== null) exitStatus = Number(m[1]);
  }
  return { results, diagnostics, exitStatus };
}
