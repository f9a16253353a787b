/** A consumer's TypeScript project in a scratch directory (not a test file itself). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Writes `dir`/tsconfig.json as a consumer of the package would have it: strict ESM
 * (NodeNext) compiling src/*.ts to out/. @types/node is a devDependency of ours, not of
 * the consumer, so the repository's is used.
 */
export function writeConsumerTsconfig(dir: string): void {
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        outDir: "out",
        rootDir: "src",
        typeRoots: [join(REPO, "node_modules/@types")],
        types: ["node"],
      },
      include: ["src/*.ts"],
    }),
  );
}
