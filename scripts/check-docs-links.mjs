// After `typedoc`: every link of README.md into docs/api/ must reach a page, and its
// #anchor an element of that page, so the README's sections of the API reference
// cannot silently go stale when exports move between sides or pages are renamed.
import { existsSync, readFileSync } from "node:fs";

const readme = readFileSync("README.md", "utf8");
const links = [...readme.matchAll(/\]\((docs\/api\/[^)#\s]+)(?:#([^)\s]+))?\)/g)];
const broken = [];
for (const [, file, anchor] of links) {
  if (!existsSync(file)) broken.push(`${file}: no such page`);
  else if (anchor && !readFileSync(file, "utf8").includes(`id="${anchor}"`)) {
    broken.push(`${file}#${anchor}: no such anchor`);
  }
}
if (links.length === 0) broken.push("README.md links no page of docs/api/");
if (broken.length > 0) {
  console.error(
    `README.md links into the API reference that lead nowhere:\n  ${broken.join("\n  ")}`,
  );
  process.exit(1);
}
console.log(`README.md: ${links.length} links into docs/api/ checked`);
