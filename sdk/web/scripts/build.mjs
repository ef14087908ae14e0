// Builds dist/shoal.js (the SDK as an ES module, hls.js not included) and dist/demo.js
// (the demo page's script: hls.js + SDK, one classic script), then prints the SDK's
// minified+gzipped size (goal: ≤ 30 KB). Output is deterministic, so CI can rebuild and
// compare with the committed files.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

const common = { bundle: true, minify: true, target: "es2020", legalComments: "none", logLevel: "warning", charset: "utf8" };
await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/shoal.js", format: "esm", platform: "browser", external: ["hls.js"] });
await build({ ...common, entryPoints: ["demo/demo.ts"], outfile: "dist/demo.js", format: "iife", platform: "browser" });

const sdk = readFileSync("dist/shoal.js");
const gz = gzipSync(sdk, { level: 9 }).length;
const demo = readFileSync("dist/demo.js");
console.log(`dist/shoal.js: ${sdk.length} bytes minified, ${gz} bytes gzipped (${(gz / 1024).toFixed(1)} KiB; goal ≤ 30 KB), hls.js excluded`);
console.log(`dist/demo.js:  ${demo.length} bytes minified (hls.js ${JSON.parse(readFileSync("node_modules/hls.js/package.json")).version} + SDK + demo)`);
if (gz > 30 * 1024) {
  console.error("SDK bundle above 30 KB gzipped");
  process.exit(1);
}
