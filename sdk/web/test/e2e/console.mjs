// Browser test of the operator's console (issue 15): a real `shoal up --peers 4` (Go
// peers over loopback WebRTC), Chromium on /console. Checks that the page shows the
// demo stream with the offload of /api/streams (within 5 points), that its P2P switch
// turns the swarm's P2P bytes/s (measured from /api/streams, not from the page) to 0
// within 5 s and that switching it on again brings them back, and that /console and
// the demo page log no console errors. Lives here for playwright-core (sdk/web's
// devDependency); run by scripts/console-e2e.sh.
//
// Env: SHOAL_BIN (required), CHROMIUM (/usr/bin/chromium), SCREENSHOT (a PNG path: save
// the console there).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), "shoal-console-"));
// Every viewer is on loopback: the CIDR map files them all under region "lab" (trusted).
const shoal = spawn(process.env.SHOAL_BIN, ["up", "--peers", "4", "--ice-interface", "lo", "--region-cidr", "127.0.0.0/8=lab", "--listen", "127.0.0.1:0", "--key-file", join(dir, "origin.key"), "--log-level", "warn"], { stdio: ["ignore", "pipe", "inherit"] });
const base = await new Promise((resolve, reject) => {
  let out = "";
  shoal.stdout.on("data", (d) => {
    out += d;
    const m = /shoal up on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) resolve(m[1]);
  });
  shoal.on("exit", (c) => reject(new Error(`shoal up exited ${c}`)));
});

const demo = async () => (await (await fetch(base + "/api/streams?stream=demo")).json())[0];
// P2P bytes/s of the swarm over the trailing window, from /api/streams.
const history = [];
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const d = await demo().catch(() => null);
    if (d) history.push({ t: Date.now(), p2p: d.bytes_p2p });
    await sleep(250);
  }
})();
const windowMs = 3000; // above the peers' 2 s stats interval
const p2pRate = (at = Date.now()) => {
  const end = history.filter((h) => h.t <= at).pop();
  const start = history.filter((h) => h.t <= at - windowMs).pop();
  if (!end || !start) return NaN;
  return ((end.p2p - start.p2p) * 1000) / (end.t - start.t);
};

// "Falls to 0 within 5 s" of a click: the swarm's P2P byte count stops moving by 5 s
// after it and stays still for the next 4 s (two stats intervals: any P2P byte after
// 5 s would show up in a report by then).
async function p2pStops(what) {
  const off = Date.now();
  await sleep(5000);
  const at5 = history.at(-1);
  await sleep(4000);
  const at9 = history.at(-1);
  const lastMove = history.filter((h, i) => i > 0 && h.p2p !== history[i - 1].p2p).pop();
  check(at5.t - off >= 4500 && at9.p2p === at5.p2p, `${what}: P2P bytes/s 0 from ${((at5.t - off) / 1000).toFixed(1)} s to ${((at9.t - off) / 1000).toFixed(1)} s after the click (last P2P bytes counted ${lastMove ? ((lastMove.t - off) / 1000).toFixed(1) : "?"} s after it)`);
}

async function p2pResumes(what) {
  const on = Date.now();
  while (Date.now() - on < 30000 && !(p2pRate() > 0 && history.at(-1).t - on > windowMs)) await sleep(250);
  check(p2pRate() > 0, `${what}: P2P bytes/s back to ${Math.round(p2pRate())} ${((Date.now() - on) / 1000).toFixed(1)} s after switching on`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
try {
  // The swarm shares before the operator looks.
  const t0 = Date.now();
  await sleep(15000); // past the startup burst: offload settles
  while (Date.now() - t0 < 60000 && !(p2pRate() > 0 && (await demo())?.peers === 4)) await sleep(500);
  check(p2pRate() > 0, `swarm shares: ${Math.round(p2pRate())} P2P bytes/s with 4 peers`);

  const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(base + "/console");
  const row = 'tr[data-stream="demo"]';
  await page.waitForSelector(row, { timeout: 10000 });

  // Offload on the page against /api/streams, read together.
  let diff = Infinity, shown = "", api = 0;
  for (let i = 0; i < 10 && diff > 5; i++) {
    shown = await page.textContent(`${row} .offload`);
    api = 100 * (await demo()).offload;
    diff = Math.abs(parseFloat(shown) - api);
    if (diff > 5) await sleep(500);
  }
  check(diff <= 5, `console offload ${shown} vs /api/streams ${api.toFixed(1)}% (within 5 points)`);
  await page.waitForFunction(() => document.querySelectorAll("#chart canvas").length > 0 && document.querySelectorAll("#regions tbody tr").length > 0, null, { timeout: 10000 });
  await sleep(6000); // some chart history for the screenshot
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

  // P2P off from the console's switch.
  check(await page.isChecked(`${row} input.p2p`), "console shows P2P on");
  await page.uncheck(`${row} input.p2p`);
  await p2pStops("stream switch");
  const pol = await (await fetch(base + "/api/streams/demo/policy")).json();
  check(pol.policy.p2p_enabled === false, "the tracker's policy is P2P off");
  await page.waitForSelector(`${row} .off`, { timeout: 5000 }).catch(() => {});
  check((await page.textContent(`${row} span`)) === "off", "console shows P2P off");

  // And on again.
  await page.check(`${row} input.p2p`);
  await p2pResumes("stream switch");

  // The same for one region, from the console's regions table.
  const lab = "#regions tbody tr:first-child";
  check((await page.textContent(`${lab} td:first-child`)) === "lab", "viewers filed under the trusted region lab");
  await page.uncheck(`${lab} input.rp2p`);
  await p2pStops("region switch");
  const rp = await (await fetch(base + "/api/streams/demo/policy?region=lab")).json();
  check(rp.policy.p2p_enabled === false && rp.regions?.lab?.p2p_enabled === false, "the tracker's policy for region lab is P2P off");
  const st = await demo();
  check(st.peers === 4, `detached viewers still counted (${st.peers} peers in /api/streams)`);
  await page.check(`${lab} input.rp2p`);
  await p2pResumes("region switch");

  // The upload cap field sets the stream's max_upload.
  await page.fill(`${row} input.cap`, "2.5");
  await page.click(`${row} button.apply`);
  let cap = 0;
  for (let i = 0; i < 20 && cap !== 2500000; i++) {
    await sleep(250);
    cap = (await (await fetch(base + "/api/streams/demo/policy")).json()).policy.max_upload;
  }
  check(cap === 2500000, `upload cap from the console: max_upload ${cap} (want 2500000)`);

  check(errors.length === 0, `console: no console errors${errors.length ? ": " + errors.slice(0, 5).join(" | ") : ""}`);

  // The demo page: no console errors (it used to 404 on /favicon.ico).
  const demoPage = await ctx.newPage();
  const demoErrors = [];
  demoPage.on("console", (m) => m.type() === "error" && demoErrors.push(m.text()));
  demoPage.on("pageerror", (e) => demoErrors.push(String(e)));
  demoPage.on("response", (r) => r.status() >= 400 && demoErrors.push(`${r.status()} ${r.url()}`));
  await demoPage.goto(base + "/");
  await sleep(8000);
  const t = await demoPage.evaluate(() => document.querySelector("video")?.currentTime ?? 0);
  check(t > 2, `demo page plays (currentTime ${t.toFixed(1)})`);
  // The browser's SDK reports its startup to the tracker too (startup_ms in stats).
  const regions = await (await fetch(base + "/api/streams/demo/regions")).json();
  const started = regions.reduce((n, r) => n + r.started, 0), viewers = regions.reduce((n, r) => n + r.viewers, 0);
  check(viewers === 5 && started === 5, `QoE by region: ${started} of ${viewers} viewers (4 Go peers + the page) report their startup`);
  check(demoErrors.length === 0, `demo page: no console errors${demoErrors.length ? ": " + demoErrors.slice(0, 5).join(" | ") : ""}`);
} finally {
  sampling = false;
  await sampler;
  await browser.close();
  shoal.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures.length ? `console e2e: ${failures.length} check(s) failed` : "console e2e: all checks passed");
process.exit(failures.length ? 1 : 0);
