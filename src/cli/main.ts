#!/usr/bin/env node
/** Entry point of the `vfio-ts` command (package.json "bin"). */
import { CommanderError } from "commander";
import { describeError, EXIT_OK, EXIT_USAGE, exitCodeOf } from "./cli-error.js";
import { buildProgram, commanderExitCode } from "./program.js";

async function main(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => {
    code = c;
  });
  if (argv.length <= 2) {
    // No command: a usage error, as git and other multi-command tools treat it.
    process.stderr.write(program.helpInformation());
    return EXIT_USAGE;
  }
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
