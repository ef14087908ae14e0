// Type-checks src and test with tsc, transpiles them with esbuild into a temporary
// folder and runs every test/*.test.ts with node's test runner. Extra arguments go to
// `node --test` (e.g. --test-name-pattern=wire).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const out = mkdtempSync(join(tmpdir(), "shoal-sdk-test-"));
try {
  const tests = readdirSync("test").filter((f) => f.endsWith(".test.ts"));
  await build({
    entryPoints: tests.map((f) => join("test", f)),
    outdir: out,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "inline",
    logLevel: "warning",
  });
  const files = readdirSync(out).filter((f) => f.endsWith(".test.mjs")).map((f) => join(out, f));
  const env = { ...process.env, SHOAL_REPO: join(root, "..", "..") };
  const r = spawnSync(process.execPath, ["--experimental-websocket", "--test", "--test-concurrency=1", ...process.argv.slice(2), ...files], { stdio: "inherit", env });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
