/**
 * A node:test reporter for the guest: one line per finished test, JSON behind a
 * marker, so the host can find the results among the kernel's console messages and
 * turn each into a host test with the guest's failure message.
 */
export const REPORT_MARKER = "@@vfio-ts-test@@";

export interface GuestTestResult {
  /** Suite names and the test's, joined by " > ". */
  readonly name: string;
  readonly file: string | undefined;
  readonly ok: boolean;
  /** The failure, as the guest saw it. */
  readonly error?: string;
}

/** What the guest's tests reported with t.diagnostic, and its run summary. */
export interface GuestDiagnostic {
  readonly diagnostic: string;
}

interface TestEventData {
  name: string;
  nesting: number;
  file?: string;
  message?: string;
  details?: { type?: string; error?: { message?: string; cause?: unknown } };
}

function describeError(err: { message?: string; cause?: unknown } | undefined): string {
  const cause = err?.cause;
  if (cause instanceof Error) return cause.stack ?? cause.message;
  if (cause !== undefined) return String(cause);
  return err?.message ?? "failed";
}

export default async function* guestReporter(
  source: AsyncIterable<{ type: string; data: TestEventData }>,
): AsyncGenerator<string> {
  const path: string[] = [];
  for await (const { type, data } of source) {
    if (type === "test:start") {
      path[data.nesting] = data.name;
      path.length = data.nesting + 1;
    } else if (type === "test:diagnostic") {
      const d: GuestDiagnostic = { diagnostic: data.message ?? "" };
      yield `${REPORT_MARKER} ${JSON.stringify(d)}\n`;
    } else if (type === "test:pass" || type === "test:fail") {
      if (data.details?.type === "suite") continue;
      const result: GuestTestResult = {
        name: [...path.slice(0, data.nesting), data.name].join(" > "),
        file: data.file,
        ok: type === "test:pass",
        ...(type === "test:fail" ? { error: describeError(data.details?.error) } : {}),
      };
      yield `${REPORT_MARKER} ${JSON.stringify(result)}\n`;
    }
  }
}
