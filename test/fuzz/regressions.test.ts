/**
 * Every input a fuzz target ever failed on (fuzz/regressions/<target>/) runs through that
 * target again, and so does every seed (fuzz/corpus/<target>/, real traffic, which must
 * never fail): a target throws on a regression (a non-ProtocolError from a decoder, an
 * inconsistent decode, a broken server), so each file is a test. Jazzer.js is not
 * needed: the targets are plain modules.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

const FUZZ = new URL("../../../fuzz/", import.meta.url);

type Target = { fuzz(data: Buffer): void | Promise<void> };

function inputs(kind: "regressions" | "corpus"): void {
  const root = new URL(`${kind}/`, FUZZ);
  for (const target of readdirSync(root).sort()) {
    describe(`fuzz ${kind}: ${target}`, () => {
      it(`every input passes ${target}`, async () => {
        const mod = (await import(`../../fuzz/${target}.js`)) as Target;
        const dir = new URL(`${target}/`, root);
        for (const name of readdirSync(dir).sort()) {
          try {
            await mod.fuzz(readFileSync(new URL(name, dir)));
          } catch (err) {
            throw new Error(`${kind}/${target}/${name}: ${(err as Error).message}`, { cause: err });
          }
        }
      });
    });
  }
}

inputs("regressions");
inputs("corpus");
