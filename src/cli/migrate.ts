/**
 * `vfio-ts migrate --from S1 --to S2`: moves a device from one vfio-user server to
 * another, as a VMM does (stop-copy, optionally pre-copy rounds first), and reports
 * bytes, rounds and downtime. The source is left stopped, the destination running;
 * the next client of the destination finds the device as the source had it (the spec
 * keeps device state across clients). Neither server may have another client.
 */
import { migrateDevice } from "../client/migrate.js";
import { VfioUserClient } from "../client/vfio-user-client.js";
import { CliError, EXIT_FAILURE, EXIT_OK, explainConnectError } from "./cli-error.js";

export interface MigrateCommandOptions {
  readonly from: string;
  readonly to: string;
  readonly precopyRounds: number;
  readonly json: boolean;
}

async function connect(path: string): Promise<VfioUserClient> {
  try {
    return await VfioUserClient.connect(path, { handshakeTimeoutMs: 5000 });
  } catch (err) {
    throw explainConnectError(err, path);
  }
}

export async function migrateCommand(opts: MigrateCommandOptions): Promise<number> {
  const source = await connect(opts.from);
  try {
    const destination = await connect(opts.to);
    try {
      let report: Awaited<ReturnType<typeof migrateDevice>>;
      try {
        report = await migrateDevice(source.device, destination.device, {
          precopyRounds: opts.precopyRounds,
        });
      } catch (err) {
        throw new CliError(
          `migration from ${opts.from} to ${opts.to} failed: ${(err as Error).message}`,
          EXIT_FAILURE,
          { cause: err },
        );
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ from: opts.from, to: opts.to, ...report })}\n`);
      } else {
        const pre =
          report.rounds > 0
            ? ` (${report.precopyBytes} in ${report.rounds} pre-copy round${report.rounds === 1 ? "" : "s"})`
            : "";
        process.stdout.write(
          `migrated ${opts.from} -> ${opts.to}: ${report.bytes} bytes${pre}, ` +
            `downtime ${report.downtimeMs.toFixed(2)} ms, total ${report.totalMs.toFixed(2)} ms\n`,
        );
      }
      return EXIT_OK;
    } finally {
      await destination.close().catch(() => {});
    }
  } finally {
    await source.close().catch(() => {});
  }
}
