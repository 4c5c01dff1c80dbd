// Static checks on the source tree that need no org: every Apex class has its -meta.xml, every non-test class has
// a test class that mentions it, and every custom object has at least one field.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = "force-app/main/default";
const problems = [];

const classDir = join(base, "classes");
const classes = readdirSync(classDir).filter((name) => name.endsWith(".cls"));
const sources = Object.fromEntries(
  classes.map((name) => [
    name.slice(0, -4),
    readFileSync(join(classDir, name), "utf8")
  ])
);
const isTest = (source) => /@IsTest/i.test(source);
const testSources = Object.values(sources).filter(isTest);

for (const [name, source] of Object.entries(sources)) {
  if (!existsSync(join(classDir, `${name}.cls-meta.xml`))) {
    problems.push(`${name}.cls has no ${name}.cls-meta.xml`);
  }
  if (!isTest(source) && !testSources.some((test) => test.includes(name))) {
    problems.push(`${name} is not referenced by any test class`);
  }
}

const objectDir = join(base, "objects");
for (const object of readdirSync(objectDir)) {
  const fields = join(objectDir, object, "fields");
  if (!existsSync(fields) || readdirSync(fields).length === 0) {
    problems.push(`${object} has no fields`);
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(
  `metadata ok: ${classes.length} classes, ${readdirSync(objectDir).length} objects`
);
