// Bundle the front end into the Python package: `node tools/build.mjs` writes qvl_widget/static/,
// `node tools/build.mjs --check` fails if what is committed there is not what the sources build to.

import { readFile, writeFile } from "node:fs/promises";
import { build } from "esbuild";

const OUTPUTS = [
  { entry: "js/widget.js", target: "qvl_widget/static/widget.js" },
  { entry: "js/page.js", target: "qvl_widget/static/page.js" },
];
const STYLES = [{ source: "js/widget.css", target: "qvl_widget/static/widget.css" }];

/** @param {string} entry */
async function bundle(entry) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    target: "es2020",
    legalComments: "none",
    write: false,
  });
  return result.outputFiles[0].text;
}

const check = process.argv.includes("--check");
const stale = [];
const files = [
  ...(await Promise.all(OUTPUTS.map(async ({ entry, target }) => ({ target, text: await bundle(entry) })))),
  ...(await Promise.all(STYLES.map(async ({ source, target }) => ({ target, text: await readFile(source, "utf8") })))),
];
for (const { target, text } of files) {
  if (check) {
    const committed = await readFile(target, "utf8").catch(() => "");
    if (committed !== text) stale.push(target);
  } else {
    await writeFile(target, text);
    console.log(`wrote ${target}`);
  }
}
if (stale.length) {
  console.error(`stale front-end bundle: ${stale.join(", ")}; run \`npm run build\` and commit the result`);
  process.exit(1);
}
