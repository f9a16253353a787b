#!/usr/bin/env node
/** Entry point of the `vfio-ts` command (package.json "bin"). */
import { CommanderError } from "commander";
import { describeError, EXIT_OK, exitCodeOf } from "./cli-error.js";
import { buildProgram, commanderExitCode } from "./program.js";

async function main(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExitCode(err);
    console.error(`vfio-ts: ${describeError(err)}`);
    return exitCodeOf(err);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`vfio-ts: ${describeError(err)}`);
    process.exitCode = 1;
  },
);
