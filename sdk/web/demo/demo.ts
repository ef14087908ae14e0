// The demo page's script: hls.js plus the SDK, live stats, window.shoal for tests.
import Hls from "hls.js";
import { ShoalP2P } from "../src/index.js";

const q = new URLSearchParams(location.search);
const src = new URL(q.get("src") ?? "/live/demo/index.m3u8", location.href).toString();
const video = document.getElementById("video") as HTMLVideoElement;
const $ = (id: string) => document.getElementById(id)!;
$("src").textContent = new URL(src).pathname;

const w = window as unknown as Record<string, unknown>;
const fragHashes: Record<string, string> = {};
const consoleErrors: string[] = [];
w.fragHashes = fragHashes;

function human(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(2)} MiB`;
}

if (!Hls.isSupported()) {
  $("note").textContent = "This browser cannot play HLS with Media Source Extensions.";
} else {
  const hls = new Hls();
  const shoal = new ShoalP2P(hls, {
    p2p: q.get("p2p") !== "0",
    uploadCap: q.has("up") ? Number(q.get("up")) : undefined,
  });
  w.hls = hls;
  w.shoal = shoal;
  w.consoleErrors = consoleErrors;
  shoal.on("fallback", (e) => ($("note").textContent = `CDN only: ${e.reason}`));
  shoal.on("bad-piece", (e) => console.warn(`shoal: rejected a bad piece from ${e.peer} (${e.segment}/${e.piece}); peer reported`));
  shoal.on("banned", (e) => ($("note").textContent = `banned by the tracker: ${e.reason}`));
  // Hash what hls.js gets, so tests can compare it with the edge's segments.
  hls.on(Hls.Events.FRAG_LOADED, (_e, d) => {
    const buf = (d.payload as ArrayBuffer).slice(0);
    if (!crypto.subtle) return;
    void crypto.subtle.digest("SHA-256", buf).then((h) => {
      fragHashes[d.frag.url] = Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, "0")).join("");
    });
  });
  hls.on(Hls.Events.ERROR, (_e, d) => {
    if (d.fatal) $("note").textContent = `hls.js: ${d.type} ${d.details}`;
  });
  hls.loadSource(src);
  hls.attachMedia(video);
  video.play().catch(() => undefined);

  setInterval(() => {
    const s = shoal.stats();
    $("mode").textContent = s.mode === "p2p" ? "P2P + CDN" : `CDN only (${s.fallbackReason})`;
    $("peer-id").textContent = s.peerId || "–";
    $("peers").textContent = String(s.peers);
    $("cdn").textContent = human(s.bytesCdn);
    $("p2p").textContent = human(s.bytesP2P);
    $("up").textContent = human(s.bytesUploaded);
    $("offload").textContent = `${(s.offload * 100).toFixed(1)}%`;
    ($("offload-bar") as HTMLElement).style.width = `${(s.offload * 100).toFixed(1)}%`;
    $("latency").textContent = Number.isFinite(hls.latency) ? `${hls.latency.toFixed(2)} s` : "–";
    $("stalls").textContent = String(s.stalls);
    $("bad").textContent = String(s.badPieces);
  }, 1000);
}
