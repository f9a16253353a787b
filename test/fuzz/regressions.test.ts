/**
 * Every input a fuzz target ever failed on (fuzz/regressions/<target>/) runs through that
 * target again: the target throws on a regression (a non-ProtocolError from a decoder, an
 * inconsistent decode, a broken server), so each file is a test.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

const ROOT = new URL("../../../fuzz/regressions/", import.meta.url);

for (const target of readdirSync(ROOT).sort()) {
  describe(`fuzz regressions: ${target}`, () => {
    for (const name of readdirSync(new URL(`${target}/`, ROOT)).sort()) {
      it(name, async () => {
        const mod = (await import(`../../fuzz/${target}.js`)) as {
          fuzz(data: Buffer): void | Promise<void>;
        };
        await mod.fuzz(readFileSync(new URL(`${target}/${name}`, ROOT)));
      });
    }
  });
}
