// A TypeDoc plugin: groups the top level of the API reference by side (device side, driver
// side, protocol, shared) from each export's source directory, so the grouping follows the
// layers of src/ without a @group tag on every declaration. Within a side, exports keep
// TypeDoc's own grouping by kind (namespaces, classes, interfaces, ...) as categories.
import { Converter, ReflectionCategory, ReflectionGroup } from "typedoc";

/** Source directory prefix -> side, first match wins; anything else is "Shared". */
const SIDES = [
  ["src/server/", "Device side"],
  ["src/devices/", "Device side"],
  ["src/client/", "Driver side"],
  ["src/drivers/", "Driver side"],
  ["src/protocol/", "Protocol"],
  ["src/transport/", "Protocol"],
];
const ORDER = ["Device side", "Driver side", "Protocol", "Shared"];

function sideOf(reflection) {
  const target = reflection.getTargetReflectionDeep?.() ?? reflection;
  const file = target.sources?.[0]?.fileName ?? "";
  return SIDES.find(([prefix]) => file.startsWith(prefix))?.[1] ?? "Shared";
}

/** @param {import("typedoc").Application} app */
export function load(app) {
  // After TypeDoc's GroupPlugin (-100) has grouped by kind, before its CategoryPlugin (-200).
  app.converter.on(
    Converter.EVENT_RESOLVE_END,
    (context) => {
      const project = context.project;
      const sides = new Map(ORDER.map((title) => [title, new ReflectionGroup(title, project)]));
      for (const kindGroup of project.groups ?? []) {
        for (const child of kindGroup.children) {
          const side = sides.get(sideOf(child));
          let category = side.categories?.find((c) => c.title === kindGroup.title);
          if (!category) {
            category = new ReflectionCategory(kindGroup.title);
            side.categories = [...(side.categories ?? []), category];
          }
          category.children.push(child);
          side.children.push(child);
        }
      }
      project.groups = [...sides.values()].filter((g) => g.children.length > 0);
      // "Defined in src/...:line" stays, as text: the package has no public repository
      // to link to yet (typedoc.json turns git off so any clone builds).
      for (const r of Object.values(project.reflections)) {
        for (const source of r.sources ?? []) source.url = undefined;
      }
    },
    -150,
  );
}
