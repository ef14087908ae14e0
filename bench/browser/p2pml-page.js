// The p2p-media-loader page of bench/browser: hls.js 1.7.4 with p2p-media-loader 2.3.1
// (HlsJsP2PEngine.injectMixin), hls.js's default live latency unless the query says
// otherwise. Query: src (playlist), tracker (WebTorrent tracker WebSocket URL:
// bittorrent-tracker's or shoal's /announce), swarm (swarmId), and optionally sync
// (hls.js liveSyncDurationCount) and hdw (p2p-media-loader highDemandTimeWindow, s). window.hls and window.p2pml
// ({http, p2p, uploaded} bytes from the engine's chunk events) are read by bench.mjs.
import Hls from "hls.js";
import { HlsJsP2PEngine } from "p2p-media-loader-hlsjs";

const q = new URLSearchParams(location.search);
const video = document.getElementById("video");
const stats = { http: 0, p2p: 0, uploaded: 0, peers: 0, maxPeers: 0, errors: 0 };
window.p2pml = stats;

const HlsWithP2P = HlsJsP2PEngine.injectMixin(Hls);
const live = q.has("sync") ? { liveSyncDurationCount: Number(q.get("sync")) } : {};
const hdw = q.has("hdw") ? { highDemandTimeWindow: Number(q.get("hdw")) } : {};
const hls = new HlsWithP2P({
  ...live,
  p2p: {
    core: {
      announceTrackers: [q.get("tracker")],
      rtcConfig: { iceServers: [] },
      swarmId: q.get("swarm") ?? "bench",
      ...hdw,
    },
    onHlsJsCreated(h) {
      const e = h.p2pEngine;
      e.addEventListener("onChunkDownloaded", (bytes, source) => {
        if (source === "p2p") stats.p2p += bytes;
        else stats.http += bytes;
      });
      e.addEventListener("onChunkUploaded", (bytes) => (stats.uploaded += bytes));
      e.addEventListener("onPeerConnect", () => (stats.maxPeers = Math.max(stats.maxPeers, ++stats.peers)));
      e.addEventListener("onPeerClose", () => stats.peers--);
      e.addEventListener("onSegmentError", () => stats.errors++);
    },
  },
});
window.hls = hls;
hls.loadSource(q.get("src"));
hls.attachMedia(video);
video.play().catch(() => undefined);
