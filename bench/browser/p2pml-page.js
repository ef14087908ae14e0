// The p2p-media-loader page of bench/browser: hls.js 1.7.4 with p2p-media-loader 2.3.1
// (HlsJsP2PEngine.injectMixin), hls.js's default live latency. Query: src (playlist),
// tracker (bittorrent-tracker WebSocket URL), swarm (swarmId). window.hls and window.p2pml
// ({http, p2p, uploaded} bytes from the engine's chunk events) are read by bench.mjs.
import Hls from "hls.js";
import { HlsJsP2PEngine } from "p2p-media-loader-hlsjs";

const q = new URLSearchParams(location.search);
const video = document.getElementById("video");
const stats = { http: 0, p2p: 0, uploaded: 0, peers: 0, errors: 0 };
window.p2pml = stats;

const HlsWithP2P = HlsJsP2PEngine.injectMixin(Hls);
const hls = new HlsWithP2P({
  p2p: {
    core: {
      announceTrackers: [q.get("tracker")],
      rtcConfig: { iceServers: [] },
      swarmId: q.get("swarm") ?? "bench",
    },
    onHlsJsCreated(h) {
      const e = h.p2pEngine;
      e.addEventListener("onChunkDownloaded", (bytes, source) => {
        if (source === "p2p") stats.p2p += bytes;
        else stats.http += bytes;
      });
      e.addEventListener("onChunkUploaded", (bytes) => (stats.uploaded += bytes));
      e.addEventListener("onPeerConnect", () => stats.peers++);
      e.addEventListener("onPeerClose", () => stats.peers--);
      e.addEventListener("onSegmentError", () => stats.errors++);
    },
  },
});
window.hls = hls;
hls.loadSource(q.get("src"));
hls.attachMedia(video);
video.play().catch(() => undefined);
