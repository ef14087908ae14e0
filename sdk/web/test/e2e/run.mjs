// End-to-end: N Chromium pages play the demo stream of a real `shoal up` with the SDK,
// for DURATION seconds, and must: advance currentTime without stalls, get bytes from
// peers and upload to peers, hand hls.js exactly the edge's bytes, reject and report a
// corrupted piece, and log no console errors; then ffmpeg pushes an on-demand title, which
// ffprobe, a stock hls.js page (no SDK) and mpv read and seek into through the edge (and
// hls.js a --vod-dir title), and which a SIGKILLed and restarted `shoal up` serves
// byte-identical from its store. Run inside the network namespace made by
// scripts/sdk-e2e.sh (Chromium gathers no loopback candidates).
//
// Env: SHOAL_BIN (required), PAGES (3), DURATION (40), CHROMIUM (/usr/bin/chromium).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const pages = Number(process.env.PAGES ?? 3);
const duration = Number(process.env.DURATION ?? 40);
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

// 1. shoal up, with a 20 s on-demand title made by real ffmpeg in its --vod-dir, and a
// store (--store-dir) that a title pushed in step 7 lands in.
const dir = mkdtempSync(join(tmpdir(), "shoal-e2e-"));
const title = "film";
mkdirSync(join(dir, "vod", title), { recursive: true });
const testsrc = ["-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
  "-t", "20", "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"];
const enc = spawnSync("ffmpeg", [...testsrc, join(dir, "vod", title, "index.m3u8")]);
if (enc.status !== 0) throw new Error(`ffmpeg: ${enc.stderr}`);
const goPeers = Number(process.env.PEERS ?? 0);
const peerArgs = goPeers > 0 ? ["--peers", String(goPeers), "--ice-interface", process.env.ICE_INTERFACE ?? "v0"] : [];
const upArgs = ["up", "--listen", "127.0.0.1:0", "--key-file", join(dir, "origin.key"), "--log-level", "warn", "--vod-dir", join(dir, "vod"), "--store-dir", join(dir, "store")];
let goStatus = "";
// startUp runs `shoal up` with args and resolves to its base URL.
const startUp = (args) => {
  const proc = spawn(process.env.SHOAL_BIN, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /shoal up on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
      const st = out.trim().split("\n").filter((l) => l.startsWith("peers ")).pop();
      if (st) goStatus = st;
    });
    proc.on("exit", (c) => reject(new Error(`shoal up exited ${c}`)));
  });
  return { proc, url };
};
let { proc: shoal, url: shoalUp } = startUp([...upArgs, ...peerArgs]);
const shoalUrl = await shoalUp;

// 2. The demo page (until `shoal up` serves it at /).
// /stock is a page with stock hls.js and no SDK (step 7).
const stock = `<!doctype html><link rel="icon" href="data:,"><video muted></video><script src="/hls.js"></script><script>
const v = document.querySelector("video"), hls = new Hls();
window.seeked = 0; v.addEventListener("seeked", () => window.seeked++);
hls.on(Hls.Events.MANIFEST_PARSED, () => { v.currentTime = 10; v.play(); });
hls.loadSource(new URLSearchParams(location.search).get("src")); hls.attachMedia(v);
</script>`;
const files = { "/": ["demo/index.html", "text/html"], "/sdk/demo.js": ["dist/demo.js", "text/javascript"], "/hls.js": ["node_modules/hls.js/dist/hls.min.js", "text/javascript"] };
const web = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/stock") return res.writeHead(200, { "content-type": "text/html" }).end(stock);
  const f = files[path];
  if (!f) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": f[1] }).end(readFileSync(join(root, f[0])));
});
await new Promise((r) => web.listen(0, "127.0.0.1", r));
// Once `shoal up` serves the page itself (at / and /sdk/demo.js), test that.
const served = (await fetch(shoalUrl + "/sdk/demo.js")).ok;
// Pages announce 40 Mbit/s upload, more than the Go peers' 20: the tracker then makes
// browsers the seeders of the stripes (so the Go peers need pieces from browsers).
const up = process.env.PAGE_UPLOAD ?? "40000000";
const pageUrl = served ? `${shoalUrl}/?up=${up}` : `http://127.0.0.1:${web.address().port}/?up=${up}&src=${encodeURIComponent(shoalUrl + "/live/demo/index.m3u8")}`;
console.log(`shoal ${shoalUrl}, page ${pageUrl}`);

// 3. Chromium.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"],
});
const tabs = [];
try {
  for (let i = 0; i < pages; i++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pageUrl);
    tabs.push({ page, errors });
    await page.waitForTimeout(1500); // staggered joins, like real viewers
  }
  const sample = () =>
    Promise.all(
      tabs.map((t) =>
        t.page.evaluate(() => ({ t: document.querySelector("video").currentTime, s: window.shoal.stats(), latency: window.hls.latency, stripe: window.shoal.swarm("demo", "index")?.tracker.stripe })),
      ),
    );
  const start = await sample();
  const half = Math.max(10, duration / 2);
  await tabs[0].page.waitForTimeout(half * 1000);

  // 4. The page that has uploaded most so far turns bad (the others keep asking it, so its
  // lies are seen whatever the swarm's shape): every piece it serves from now on has one
  // byte flipped.
  const mid = await sample();
  const liar = mid.reduce((best, m, i) => (m.s.bytesUploaded > mid[best].s.bytesUploaded ? i : best), 0);
  console.log(`page ${liar} turns bad (uploaded ${mid[liar].s.bytesUploaded} bytes so far)`);
  await tabs[liar].page.evaluate(() => {
    const sw = window.shoal.swarm("demo", "index");
    const orig = sw.pieceFor.bind(sw);
    sw.pieceFor = (s, i) => {
      const p = orig(s, i);
      if (!(p instanceof Uint8Array)) return p;
      const c = p.slice();
      c[0] ^= 0xff;
      return c;
    };
  });
  await tabs[0].page.waitForTimeout((duration - half) * 1000);
  const end = await sample();

  // 5. Checks.
  for (let i = 0; i < pages; i++) {
    const a = start[i], b = end[i];
    console.log(`page ${i}: t ${a.t.toFixed(1)}→${b.t.toFixed(1)} latency ${b.latency?.toFixed(2)} stripe ${JSON.stringify(b.stripe)} ${JSON.stringify(b.s)}`);
    check(b.t - a.t > duration * 0.8, `page ${i}: currentTime advanced ${(b.t - a.t).toFixed(1)} s in ~${duration} s`);
    check(b.s.stalls === 0, `page ${i}: no stalls (${b.s.stalls})`);
    check(b.s.mode === "p2p", `page ${i}: P2P mode`);
    check(b.s.bytesP2P > 0, `page ${i}: got ${b.s.bytesP2P} bytes from peers`);
  }
  const up = end.reduce((n, e) => n + e.s.bytesUploaded, 0);
  check(up > 0, `pages uploaded ${up} bytes to peers`);
  if (goPeers > 0) {
    // Bytes between browsers and Go peers, both directions: neighbours that are not pages.
    const ids = new Set(end.map((e) => e.s.peerId));
    let toGo = 0, fromGo = 0;
    for (const t of tabs) {
      const by = await t.page.evaluate(() => window.shoal.swarm("demo", "index").bytesByPeer());
      for (const [id, b] of Object.entries(by)) if (!ids.has(id)) (toGo += b.up), (fromGo += b.down);
    }
    console.log(`go peers: ${goStatus}`);
    check(fromGo > 0, `browsers got ${fromGo} bytes from Go peers`);
    check(toGo > 0, `Go peers got ${toGo} bytes from browsers`);
  }
  const bad = end.reduce((n, e, i) => (i === liar ? n : n + e.s.badPieces), 0);
  check(bad > 0, `the corrupted pieces of page ${liar} were rejected (${bad} bad pieces seen by the others)`);
  const reports = await (await fetch(shoalUrl + "/metrics")).text();
  const accepted = /shoal_tracker_reports_total\{outcome="(accepted|ban)"\} (\d+)/.exec(reports);
  check(!!accepted && Number(accepted[2]) > 0, `the tracker received reports (${accepted?.[0] ?? "none"})`);

  // Every fragment hls.js got hashes like the edge's segment.
  let compared = 0, mismatched = 0;
  for (const t of tabs) {
    const hashes = await t.page.evaluate(() => window.fragHashes);
    for (const [url, h] of Object.entries(hashes)) {
      const r = await fetch(url);
      if (!r.ok) continue; // left the live window
      compared++;
      if (createHash("sha256").update(Buffer.from(await r.arrayBuffer())).digest("hex") !== h) mismatched++;
    }
  }
  check(compared > pages * 5 && mismatched === 0, `fragments identical to the edge's (${compared} compared, ${mismatched} differ)`);
  for (let i = 0; i < pages; i++) {
    const errs = tabs[i].errors.filter((e) => !/Failed to load resource.*404/.test(e));
    check(errs.length === 0, `page ${i}: no console errors${errs.length ? ": " + errs.slice(0, 3).join(" | ") : ""}`);
  }

  // 6. Without WebCrypto (as in an insecure context) the SDK says so and plays CDN-only.
  {
    const ctx = await browser.newContext();
    await ctx.addInitScript(() => Object.defineProperty(globalThis.crypto, "subtle", { get: () => undefined }));
    const page = await ctx.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pageUrl);
    await page.waitForTimeout(12000);
    const r = await page.evaluate(() => ({ t: document.querySelector("video").currentTime, s: window.shoal.stats(), note: document.getElementById("note").textContent }));
    console.log(`no-crypto page: t ${r.t.toFixed(1)} ${JSON.stringify(r.s)} note "${r.note}"`);
    check(r.s.mode === "cdn" && /crypto\.subtle/.test(r.s.fallbackReason ?? "") && /CDN only/.test(r.note), "no crypto.subtle: CDN-only, and the page says so");
    check(r.t > 4 && r.s.bytesCdn > 0 && r.s.bytesP2P === 0 && r.s.stalls === 0, "no crypto.subtle: plays from the CDN");
    check(errors.length === 0, `no-crypto page: no console errors${errors.length ? ": " + errors.slice(0, 3).join(" | ") : ""}`);
    await ctx.close();
  }

  const swarms = await (await fetch(shoalUrl + "/api/streams")).json();
  console.log("tracker:", JSON.stringify(swarms));

  // 7. ffmpeg pushes a 20 s title into the store (-hls_playlist_type vod -method PUT);
  // ffprobe reads its whole duration through the edge; a stock hls.js page (no SDK)
  // seeks to 10 s and plays on, and mpv starts at 10 s; the --vod-dir title plays too.
  const pushed = "pushed";
  const push = spawnSync("ffmpeg", [...testsrc, "-method", "PUT", `${shoalUrl}/ingest/${pushed}/index.m3u8`]);
  check(push.status === 0, `ffmpeg pushes a VOD title${push.status === 0 ? "" : ": " + push.stderr}`);
  const pushedUrl = (base) => `${base}/live/${pushed}/index.m3u8`;
  let listed = "";
  for (let i = 0; i < 100 && !listed.includes("#EXT-X-ENDLIST"); i++) {
    const r = await fetch(pushedUrl(shoalUrl)).catch(() => undefined);
    listed = r?.ok ? await r.text() : "";
    if (!listed.includes("#EXT-X-ENDLIST")) await new Promise((res) => setTimeout(res, 200));
  }
  check(listed.includes("#EXT-X-PLAYLIST-TYPE:VOD") && listed.includes("#EXT-X-ENDLIST"), "the pushed title is listed as VOD, ended");
  const probe = spawnSync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", pushedUrl(shoalUrl)]);
  const dur = Number(String(probe.stdout).trim());
  console.log(`ffprobe through the edge: duration ${dur} s`);
  check(Math.abs(dur - 20) < 1, `ffprobe reads the pushed title's whole duration through the edge (${dur} s)`);
  for (const [name, src] of [["pushed", pushedUrl(shoalUrl)], ["--vod-dir", `${shoalUrl}/live/${title}/index.m3u8`]]) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    await page.goto(`http://127.0.0.1:${web.address().port}/stock?src=${encodeURIComponent(src)}`);
    await page.waitForTimeout(6000);
    const r = await page.evaluate(() => { const v = document.querySelector("video"); return { t: v.currentTime, d: v.duration, paused: v.paused, seeked: window.seeked }; });
    console.log(`stock hls.js on the ${name} title: ${JSON.stringify(r)}`);
    check(r.seeked > 0 && r.t > 11 && r.t < 20 && !r.paused && Math.abs(r.d - 20) < 1, `stock hls.js: the ${name} title seeks to 10 s and plays on`);
    check(errors.length === 0, `stock hls.js page (${name}): no console errors${errors.length ? ": " + errors.slice(0, 3).join(" | ") : ""}`);
    await ctx.close();
  }
  const mpvLog = join(dir, "mpv.log");
  const mpv = spawnSync("mpv", ["--no-config", "--no-terminal", "--vo=null", "--ao=null", "--start=10", "--frames=25", `--log-file=${mpvLog}`, pushedUrl(shoalUrl)], { timeout: 60000 });
  const ml = mpv.status === 0 ? readFileSync(mpvLog, "utf8") : "";
  const restart = /playback restart complete @ ([0-9.]+), audio=\w+, video=playing/.exec(ml);
  console.log(`mpv --start=10 through the edge: exit ${mpv.status}, restart at ${restart?.[1]}`);
  check(restart && Number(restart[1]) >= 9.5 && Number(restart[1]) <= 12 && ml.includes("finished playback, success"), "mpv seeks to 10 s in the pushed title and plays");

  // 8. shoal up killed (SIGKILL) and restarted on the same store: the pushed title is
  // served byte-identical (playlist and every segment).
  const snapshot = async (base) => {
    const pl = await (await fetch(pushedUrl(base))).text();
    const segs = [];
    for (const line of pl.split("\n")) {
      if (line && !line.startsWith("#")) segs.push(Buffer.from(await (await fetch(new URL(line, pushedUrl(base)))).arrayBuffer()));
    }
    return { pl, segs };
  };
  const before = await snapshot(shoalUrl);
  const gone = new Promise((res) => shoal.once("exit", res));
  shoal.kill("SIGKILL");
  await gone;
  ({ proc: shoal, url: shoalUp } = startUp(upArgs));
  const again = await snapshot(await shoalUp);
  const same = before.pl === again.pl && before.segs.length === again.segs.length && before.segs.every((b, i) => b.equals(again.segs[i]));
  console.log(`after SIGKILL and restart: ${again.segs.length} segments, identical: ${same}`);
  check(before.segs.length >= 10 && same, "after a SIGKILL and restart the pushed title is served byte-identical");

} finally {
  await browser.close();
  web.close();
  shoal.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures.length ? `e2e: ${failures.length} check(s) failed` : "e2e: all checks passed");
process.exit(failures.length ? 1 : 0);
