// scripts/chaos.sh's browser viewers: PAGES Chromium pages with stock hls.js 1.7.4 (its
// defaults, no P2P) playing SRC for DURATION s while the script kills components. Prints
// one line "chaos-hlsjs {json}": per page the stalls (`waiting` after the first
// `playing`, and "frozen": the playhead still for 500 ms or more), rebuffer time, hls.js errors (fatal or not, by details) and the video's
// currentTime. Env: SRC (required), HLSJS_JS (the bundled hlsjs-page.js, required),
// PAGES (1), DURATION (40), CHROMIUM (/usr/bin/chromium).
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const pages = Number(process.env.PAGES ?? 1);
const duration = Number(process.env.DURATION ?? 40);
const src = process.env.SRC;
if (!src || !process.env.HLSJS_JS) throw new Error("chaos.mjs: SRC and HLSJS_JS are required");

const files = {
  "/hlsjs.html": [join(here, "hlsjs.html"), "text/html"],
  "/hlsjs.js": [process.env.HLSJS_JS, "text/javascript"],
};
const web = createServer((req, res) => {
  const f = files[new URL(req.url, "http://x").pathname];
  if (!f) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": f[1] }).end(readFileSync(f[0]));
});
await new Promise((r) => web.listen(0, "127.0.0.1", r));

// Stalls as bench.mjs counts them, and every hls.js ERROR event.
function probe() {
  const b = { started: 0, waiting: 0, rebufferMs: 0, since: 0, errors: {} };
  window.__chaos = b;
  let h;
  Object.defineProperty(window, "hls", {
    configurable: true,
    get: () => h,
    set: (v) => {
      h = v;
      v.on("hlsError", (_e, d) => {
        const k = `${d.details}${d.fatal ? " (fatal)" : ""}`;
        b.errors[k] = (b.errors[k] ?? 0) + 1;
      });
    },
  });
  const media = (e) => e.target instanceof HTMLMediaElement;
  addEventListener("playing", (e) => {
    if (!media(e)) return;
    if (!b.started) b.started = performance.now();
    if (b.since) (b.rebufferMs += performance.now() - b.since), (b.since = 0);
  }, true);
  addEventListener("waiting", (e) => {
    if (!media(e) || !b.started) return;
    b.waiting++;
    if (!b.since) b.since = performance.now();
  }, true);
  // Frozen: the playhead did not move for 500 ms or more while playing (a `waiting`
  // is not always followed by `playing` when hls.js nudges over a gap, so the events
  // alone can count a stall that never ends).
  b.frozen = 0;
  b.frozenMs = 0;
  let last = -1, still = 0;
  setInterval(() => {
    const v = document.querySelector("video");
    if (!b.started || !v || v.paused || v.ended) return;
    if (v.currentTime - last < 0.05) {
      still += 250;
      if (still === 500) b.frozen++;
      if (still >= 500) b.frozenMs += still === 500 ? 500 : 250;
    } else still = 0;
    last = v.currentTime;
  }, 250);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
const tabs = [];
for (let i = 0; i < pages; i++) {
  const ctx = await browser.newContext();
  await ctx.addInitScript(probe);
  const page = await ctx.newPage();
  await page.goto(`http://127.0.0.1:${web.address().port}/hlsjs.html?src=${encodeURIComponent(src)}`);
  tabs.push(page);
}
console.log("chaos-hlsjs ready");
await tabs[0].waitForTimeout(duration * 1000);
const per = await Promise.all(
  tabs.map((p) =>
    p.evaluate(() => {
      const b = window.__chaos;
      return {
        started: b.started > 0,
        t: document.querySelector("video").currentTime,
        waiting: b.waiting,
        frozen: b.frozen,
        frozenMs: b.frozenMs,
        rebufferMs: Math.round(b.rebufferMs + (b.since ? performance.now() - b.since : 0)),
        errors: b.errors,
      };
    }),
  ),
);
console.log("chaos-hlsjs " + JSON.stringify(per));
await browser.close();
web.close();
