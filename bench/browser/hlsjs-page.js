// The baseline page of bench/browser: stock hls.js 1.7.4 alone (no P2P), hls.js's
// defaults, playing the same edge's stream. Query: src (playlist). window.hls and
// window.hlsjs ({http} fragment bytes, all from the CDN) are read by bench.mjs.
import Hls from "hls.js";

const q = new URLSearchParams(location.search);
const video = document.getElementById("video");
const stats = { http: 0 };
window.hlsjs = stats;
const hls = new Hls();
window.hls = hls;
hls.on(Hls.Events.FRAG_LOADED, (_e, d) => (stats.http += d.payload.byteLength));
hls.loadSource(q.get("src"));
hls.attachMedia(video);
video.play().catch(() => undefined);
