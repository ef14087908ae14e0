// bench/browser: stock hls.js alone (the baseline, no P2P), the shoal web SDK and
// p2p-media-loader 2.3.1 side by side, one after the other, on the same live stream served
// by the same `shoal up` edge: PAGES Chromium pages per system, each playing for DURATION
// s after the last one joined, hls.js 1.7.4 at its default live latency in all three.
// Prints per system: offload (P2P bytes / all media bytes the pages downloaded), stalls
// (`waiting` events after playback started, and rebuffer time), median hls.latency,
// median startup (navigation to the first `playing`) and the edge's own counter of bytes
// served for the stream; per page also when its first media segment arrived.
// Run inside the network namespace made by bench/browser/run.sh (Chromium gathers no
// loopback candidates, so WebRTC runs over the veth addresses).
//
// Env: SHOAL_BIN (required), P2PML_JS and HLSJS_JS (the bundled page scripts, required),
// PAGES (4), DURATION (60), SYSTEMS ("hlsjs,shoal,p2pml": which systems, in this order),
// WARMUP (30 s: the demo stream fills its 12-segment live window before the first run, so
// every system sees the same kind of playlist), CHROMIUM (/usr/bin/chromium), VETH_ADDR
// (10.213.0.1: where the bittorrent-tracker listens), TIMELINE (1: print per page its first
// requests, its first hls.js events and its latency samples).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Server from "bittorrent-tracker/server";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const pages = Number(process.env.PAGES ?? 4);
const duration = Number(process.env.DURATION ?? 60);
const systems = (process.env.SYSTEMS ?? "hlsjs,shoal,p2pml").split(",").filter(Boolean);
const name = {
  hlsjs: "hls.js 1.7.4 alone",
  shoal: "shoal SDK",
  p2pml: "p2p-media-loader 2.3.1",
  // The same p2p-media-loader page at one stated live configuration (hls.js
  // liveSyncDurationCount 7, highDemandTimeWindow 4 s: at the default latency it gets no
  // P2P with any tracker), announcing to bittorrent-tracker or to shoal's /announce.
  "p2pml-bt": "p2p-media-loader 2.3.1 + bittorrent-tracker (sync 7, hdw 4)",
  "p2pml-shoal": "p2p-media-loader 2.3.1 + shoal /announce (sync 7, hdw 4)",
};
for (const s of systems) if (!name[s]) throw new Error(`SYSTEMS: unknown system ${s} (${Object.keys(name).join(", ")})`);
// CHECK=webtorrent: exit 1 unless p2pml-shoal's pages connected to each other, got
// ≥ 90% of p2pml-bt's P2P bytes, had 0 stalls and no console errors (issue 17). One pair
// of 4-page runs varies by ±10% in P2P bytes (the same tracker code read 90% and 101% in
// two CI runs), so when shoal's share falls short in the first pair a second pair runs
// in the other order and the P2P bytes of both are summed; the other criteria hold in
// every run.
const check = process.env.CHECK ?? "";
const warmup = Number(process.env.WARMUP ?? 30);
const timeline = process.env.TIMELINE === "1";
const vethAddr = process.env.VETH_ADDR ?? "10.213.0.1";
const log = (...a) => console.log(...a);

// 1. shoal up: origin + edge + tracker + the demo stream (2 s segments, ~1.5 Mbit/s).
const dir = mkdtempSync(join(tmpdir(), "shoal-bench-browser-"));
const shoal = spawn(process.env.SHOAL_BIN, ["up", "--listen", "127.0.0.1:0", "--key-file", join(dir, "origin.key"), "--log-level", "warn"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const shoalUrl = await new Promise((resolve, reject) => {
  let out = "";
  shoal.stdout.on("data", (d) => {
    out += d;
    const m = /shoal up on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) resolve(m[1]);
  });
  shoal.on("exit", (c) => reject(new Error(`shoal up exited ${c}`)));
});
const src = `${shoalUrl}/live/demo/index.m3u8`;

// 2. p2p-media-loader's side: bittorrent-tracker 11.2.3 (WebSocket only) on the veth
// address, and a page server on loopback (a secure context, like shoal's page) for it and
// for the hls.js-alone page.
const tracker = new Server({ udp: false, http: false, ws: true, stats: false });
tracker.on("error", (e) => log("bittorrent-tracker error:", e.message));
tracker.on("warning", () => {});
await new Promise((r) => tracker.listen(0, vethAddr, r));
const trackerUrl = `ws://${vethAddr}:${tracker.ws.address().port}`;
const files = {
  "/": [join(here, "p2pml.html"), "text/html"],
  "/p2pml.js": [process.env.P2PML_JS, "text/javascript"],
  "/hlsjs.html": [join(here, "hlsjs.html"), "text/html"],
  "/hlsjs.js": [process.env.HLSJS_JS, "text/javascript"],
};
const web = createServer((req, res) => {
  const f = files[new URL(req.url, "http://x").pathname];
  if (!f) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": f[1] }).end(readFileSync(f[0]));
});
await new Promise((r) => web.listen(0, "127.0.0.1", r));

const pageUrl = {
  // shoal up serves its demo page (hls.js + SDK, window.hls / window.shoal) at /.
  shoal: `${shoalUrl}/`,
  hlsjs: `http://127.0.0.1:${web.address().port}/hlsjs.html?src=${encodeURIComponent(src)}`,
  p2pml: `http://127.0.0.1:${web.address().port}/?src=${encodeURIComponent(src)}&tracker=${encodeURIComponent(trackerUrl)}&swarm=bench-demo`,
  "p2pml-bt": `http://127.0.0.1:${web.address().port}/?src=${encodeURIComponent(src)}&tracker=${encodeURIComponent(trackerUrl)}&swarm=bench-bt&sync=7&hdw=4`,
  "p2pml-shoal": `http://127.0.0.1:${web.address().port}/?src=${encodeURIComponent(src)}&tracker=${encodeURIComponent(shoalUrl.replace(/^http/, "ws") + "/announce")}&swarm=bench-shoal&sync=7&hdw=4`,
};

// Stalls and latency, measured the same way in every page: `waiting` events after the
// first `playing`, the time until the next `playing`, and hls.latency once a second.
function probe() {
  const b = { started: 0, waiting: 0, rebufferMs: 0, since: 0, lat: [] };
  window.__bench = b;
  // With TIMELINE=1: the first hls.js events, to see where a slow start spent its time.
  b.ev = [];
  let h;
  const events = ["hlsManifestLoading", "hlsMediaAttached", "hlsLevelLoaded", "hlsFragLoading", "hlsFragLoaded", "hlsFragBuffered"];
  Object.defineProperty(window, "hls", {
    configurable: true,
    get: () => h,
    set: (v) => {
      h = v;
      for (const e of events) v.on(e, (_e, d) => b.ev.length < 24 && b.ev.push(`${e.slice(3)}${d.frag ? " " + d.frag.sn : ""} ${(performance.now() / 1000).toFixed(2)}`));
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
  setInterval(() => {
    const l = window.hls?.latency;
    if (b.started && Number.isFinite(l) && l > 0) b.lat.push(l);
  }, 1000);
}

async function edgeBytes() {
  const m = /^shoal_edge_bytes_served_total\{stream="demo"\} (\S+)$/m.exec(await (await fetch(shoalUrl + "/metrics")).text());
  return m ? Number(m[1]) : 0; // no line until the stream served its first byte
}

const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function run(browser, system) {
  const cdn0 = await edgeBytes();
  const t0 = Date.now();
  const tabs = [];
  for (let i = 0; i < pages; i++) {
    const ctx = await browser.newContext();
    await ctx.addInitScript(probe);
    const page = await ctx.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && !/Failed to load resource.*404/.test(m.text()) && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pageUrl[system]);
    tabs.push({ ctx, page, errors });
    await page.waitForTimeout(1500); // staggered joins, like real viewers
  }
  await tabs[0].page.waitForTimeout(duration * 1000);
  const per = await Promise.all(
    tabs.map((t) =>
      t.page.evaluate(() => {
        const b = window.__bench;
        const s = window.shoal ? window.shoal.stats() : null;
        const p = window.p2pml ?? (window.hlsjs && { http: window.hlsjs.http, p2p: 0, uploaded: 0, peers: 0 });
        // When the first media segment's response ended (any request for a .ts/.m4s).
        const seg = performance.getEntriesByType("resource").find((r) => /\.(ts|m4s)(\?|$)/.test(r.name));
        return {
          t: document.querySelector("video").currentTime,
          started: b.started > 0,
          startup: b.started / 1000, // s from navigation to the first frame played
          firstSeg: seg ? seg.responseEnd / 1000 : NaN,
          ev: b.ev.join(", "),
          // The first requests: file, start-end s.
          tl: performance.getEntriesByType("resource").slice(0, 12).map((r) => `${r.name.split("?")[0].split("/").pop()} ${(r.startTime / 1000).toFixed(2)}-${(r.responseEnd / 1000).toFixed(2)}`).join(", "),
          firstLat: b.lat[0] ?? NaN,
          waiting: b.waiting,
          rebufferMs: b.rebufferMs + (b.since ? performance.now() - b.since : 0),
          lat: b.lat,
          cdn: s ? s.bytesCdn : p.http,
          p2p: s ? s.bytesP2P : p.p2p,
          up: s ? s.bytesUploaded : p.uploaded,
          peers: s ? s.peers : p.peers,
          maxPeers: p?.maxPeers ?? 0,
        };
      }),
    ),
  );
  for (const t of tabs) await t.ctx.close();
  const secs = (Date.now() - t0) / 1000;
  // The edge answers a request after the page is gone too: let the counter settle.
  await new Promise((r) => setTimeout(r, 1000));
  const cdnEdge = (await edgeBytes()) - cdn0;
  per.forEach((p, i) =>
    log(
      `  ${system} page ${i}: currentTime ${p.t.toFixed(1)} s, waiting ${p.waiting}, rebuffer ${(p.rebufferMs / 1000).toFixed(1)} s, ` +
        `startup ${p.startup.toFixed(2)} s (first segment ${p.firstSeg.toFixed(2)} s), latency first ${p.firstLat.toFixed(2)} / median ${median(p.lat).toFixed(2)} s, cdn ${p.cdn}, p2p ${p.p2p}, up ${p.up}, peers ${p.peers}` +
        (timeline ? `\n    requests: ${p.tl}\n    hls.js: ${p.ev}\n    latency: ${p.lat.map((x) => x.toFixed(1)).join(" ")}` : "") +
        (tabs[i].errors.length ? `, console errors: ${tabs[i].errors.slice(0, 2).join(" | ")}` : ""),
    ),
  );
  const cdn = per.reduce((n, p) => n + p.cdn, 0);
  const p2p = per.reduce((n, p) => n + p.p2p, 0);
  return {
    system,
    secs,
    offload: cdn + p2p > 0 ? p2p / (cdn + p2p) : 0,
    p2p,
    cdn,
    waiting: per.reduce((n, p) => n + p.waiting, 0),
    rebuffer: per.reduce((n, p) => n + p.rebufferMs, 0) / 1000,
    notStarted: per.filter((p) => !p.started).length,
    latency: median(per.flatMap((p) => p.lat)),
    startup: median(per.map((p) => p.startup)),
    cdnEdge,
    errors: tabs.reduce((n, t) => n + t.errors.length, 0),
    connected: per.filter((p) => p.maxPeers > 0).length,
  };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"],
});
const results = [];
try {
  log(`shoal up ${shoalUrl}; bittorrent-tracker ${trackerUrl}; ${pages} pages per system, ${duration} s after the last join`);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  for (const s of systems) {
    log(`${s}: ${pageUrl[s]}`);
    results.push(await run(browser, s));
  }
  if (check === "webtorrent" && bytesShort(results)) {
    log("check webtorrent: shoal's P2P bytes under 90% in the first pair: a second pair, in the other order");
    for (const s of [...systems].reverse()) {
      log(`${s} (second): ${pageUrl[s]}`);
      results.push(await run(browser, s));
    }
  }
} finally {
  await browser.close();
  web.close();
  tracker.close();
  shoal.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

// sumRuns is the runs of system added up for the webtorrent check: P2P bytes, stalls,
// console errors and pages not started summed, pages connected the fewest of any run.
function sumRuns(results, system) {
  const rs = results.filter((r) => r.system === system);
  if (rs.length === 0) return null;
  const sum = (f) => rs.reduce((a, r) => a + r[f], 0);
  return { p2p: sum("p2p"), waiting: sum("waiting"), errors: sum("errors"), notStarted: sum("notStarted"), connected: Math.min(...rs.map((r) => r.connected)) };
}

// bytesShort: shoal's pages got under 90% of bittorrent-tracker's P2P bytes.
function bytesShort(results) {
  const bt = sumRuns(results, "p2pml-bt");
  const sh = sumRuns(results, "p2pml-shoal");
  return bt && sh && sh.p2p < 0.9 * bt.p2p;
}

const MB = (n) => (n / 1e6).toFixed(1);
log("");
log(`| system (${pages} pages) | offload | P2P MB | page CDN MB | edge counter MB | stalls (waiting) | rebuffer s | hls.latency median s | startup median s | run s |`);
log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of results)
  log(
    `| ${name[r.system]} | ${(r.offload * 100).toFixed(1)}% | ${MB(r.p2p)} | ${MB(r.cdn)} | ${MB(r.cdnEdge)} | ${r.waiting} | ${r.rebuffer.toFixed(1)} | ${r.latency.toFixed(2)} | ${r.startup.toFixed(2)} | ${r.secs.toFixed(0)} |` +
      (r.notStarted ? ` ${r.notStarted} page(s) never started` : ""),
  );
if (check === "webtorrent") {
  const bt = sumRuns(results, "p2pml-bt");
  const sh = sumRuns(results, "p2pml-shoal");
  if (!bt || !sh) throw new Error("CHECK=webtorrent needs SYSTEMS with p2pml-bt and p2pml-shoal");
  const fails = [];
  if (sh.connected < pages) fails.push(`${pages - sh.connected} shoal-tracker page(s) never connected to a peer`);
  if (!(sh.p2p > 0 && sh.p2p >= 0.9 * bt.p2p)) fails.push(`P2P bytes ${sh.p2p} < 90% of bittorrent-tracker's ${bt.p2p}`);
  if (sh.waiting > 0) fails.push(`${sh.waiting} stalls`);
  if (sh.errors > 0) fails.push(`${sh.errors} console errors`);
  if (sh.notStarted > 0) fails.push(`${sh.notStarted} page(s) never started`);
  log("");
  log(`check webtorrent: shoal /announce P2P ${MB(sh.p2p)} MB = ${bt.p2p ? ((100 * sh.p2p) / bt.p2p).toFixed(0) : "∞"}% of bittorrent-tracker's ${MB(bt.p2p)} MB; ` +
    `${sh.connected}/${pages} pages connected; stalls ${sh.waiting}; console errors ${sh.errors}: ${fails.length ? "FAIL: " + fails.join("; ") : "ok"}`);
  process.exit(fails.length ? 1 : 0);
}
process.exit(0);
