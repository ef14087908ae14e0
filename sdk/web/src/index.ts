// shoal browser SDK: plug an hls.js 1.7 player into a shoal swarm.
//
//   const hls = new Hls();
//   const shoal = new ShoalP2P(hls, { trackerUrl: "wss://edge.example/tracker" });
//   hls.loadSource("https://edge.example/live/demo/index.m3u8");
//   hls.attachMedia(video);
//   shoal.on("peer", (e) => console.log(e));
//   shoal.stats(); // {bytesCdn, bytesP2P, bytesUploaded, peers, ...}
//
// Fragments of /live/{stream}/{rendition}/{epoch}-{seq}.ts (or .m4s) are fetched by the
// swarm of that rendition: urgent pieces from the edge by HTTP Range, the rest from
// peers, every piece verified (WebCrypto SHA-256 against the origin's Ed25519-signed
// record) before hls.js sees it. Without crypto.subtle (not a secure context), Ed25519
// or RTCPeerConnection, the SDK falls back to CDN-only and says so (event "fallback",
// stats().mode). hls.destroy() tears everything down.

import type Hls from "hls.js";
import type { FragmentLoaderContext, HlsConfig, LevelLoadedData, ErrorData, Loader, LoaderContext, ManifestLoadingData } from "hls.js";
import { Emitter } from "./emitter.js";
import { fragmentLoader } from "./loader.js";
import { EdgeFailover } from "./edges.js";
import { QoE } from "./qoe.js";
import { defaultSubtle, importPublicKey, type Subtle } from "./record.js";
import { Swarm, type SwarmEvents } from "./swarm.js";
import { browserConnection, uploadConsent, type Consent } from "./consent.js";
import type { Policy } from "./tracker-message.js";
import type { SegmentId } from "./wire.js";

export { Swarm } from "./swarm.js";
export { uploadConsent } from "./consent.js";
export { TrackerClient } from "./tracker.js";
export { EdgeFailover } from "./edges.js";
export * as wire from "./wire.js";
export * as record from "./record.js";

export interface ShoalOptions {
  /** Tracker WebSocket URL; default: ws(s)://{host of the stream}/tracker. */
  trackerUrl?: string;
  /** More tracker URLs (the nodes of a tracker cluster), tried in turn after trackerUrl
   * when a session is lost or refused. */
  trackers?: string[];
  /** Edges (base URLs) to fail over between for the SDK's own requests (segment
   * ranges, records, the key): the stream's own edge first if not listed. A network
   * error or a 5xx moves to the next and retries there; back to the first after 10 s.
   * The welcome's edges are added after these. */
  edges?: string[];
  /** Only fragments of this stream use P2P (default: any stream under /live/). */
  stream?: string;
  /** Only this rendition uses P2P (default: whichever hls.js plays). */
  rendition?: string;
  /** Upload cap in bit/s (default 10 Mbit/s); 0: download only, never upload. */
  uploadCap?: number;
  /** false: never upload (the page's opt-out for its viewers); default true. See consent.ts. */
  upload?: boolean;
  /** true: upload on a metered connection too (saveData, cellular); default false. */
  uploadOnMetered?: boolean;
  /** P2P on (default) or off (CDN only, same code path for stats). */
  p2p?: boolean;
  /** The stream's Ed25519 public key, base64 (as served at /live/{stream}/key): pinned. */
  trustedKey?: string;
  /** Where to fetch the key (default /live/{stream}/key on the stream's edge). */
  keyUrl?: string;
  /** Viewer token for the tracker, when it requires one. */
  token?: string;
  region?: string;
  iceServers?: RTCIceServer[];
  /** ICE through iceServers' TURN relays only (viewers' addresses hidden from each other). */
  relayOnly?: boolean;
}

export interface ShoalStats {
  bytesCdn: number;
  bytesP2P: number;
  bytesUploaded: number;
  peers: number;
  bytesDuplicate: number;
  badPieces: number;
  stalls: number;
  /** "p2p", or "cdn" with fallbackReason saying why. */
  mode: "p2p" | "cdn";
  fallbackReason?: string;
  /** Our peer id in the current swarm, "" before the tracker welcomed us. */
  peerId: string;
  /** bytesP2P / (bytesP2P + bytesCdn), 0 without bytes. */
  offload: number;
  /** Why this page does not upload now (consent.ts), if it does not. */
  uploadOff?: string;
}

export interface ShoalEvents {
  peer: SwarmEvents["peer"];
  "bad-piece": SwarmEvents["bad-piece"];
  policy: Policy;
  tracker: SwarmEvents["tracker"];
  banned: { reason: string };
  /** P2P is unavailable; everything comes from the CDN. */
  fallback: { reason: string };
}

const PLAYLIST_PATH = /\/live\/([A-Za-z0-9_-]{1,64})\/(?:[^?#]*\/)?[^/?#]+\.m3u8$/;
const SEGMENT_PATH = /^(.*\/live\/([A-Za-z0-9_-]{1,64})\/([A-Za-z0-9_-]{1,64})\/)([0-9a-z]{1,16})-(\d{1,20})\.(ts|m4s)$/;

/** parseSegmentUrl extracts (stream, rendition, epoch, seq) from a shoal segment URL. */
export function parseSegmentUrl(url: string): { stream: string; rendition: string; id: SegmentId; origin: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const m = SEGMENT_PATH.exec(u.pathname);
  if (!m) return undefined;
  const seq = BigInt(m[5]);
  if (seq >= 1n << 64n) return undefined;
  return { stream: m[2], rendition: m[3], id: { epoch: m[4], seq }, origin: u.origin };
}

/** ShoalP2P attaches the P2P engine to an hls.js instance (before loadSource). */
export class ShoalP2P extends Emitter<ShoalEvents> {
  private readonly subtle?: Subtle;
  private fallbackReason?: string;
  private readonly swarms = new Map<string, { swarm: Swarm; used: number }>();
  private readonly keys = new Map<string, Promise<CryptoKey>>();
  /** edges: failover between the stream's edge and opts.edges, made with the first swarm. */
  private edges?: EdgeFailover;
  private cdnDirect = 0;
  private retired = { bytesCdn: 0, bytesP2P: 0, bytesUploaded: 0, bytesDuplicate: 0, badPieces: 0 };
  private stalls = 0;
  private readonly qoe = new QoE();
  private destroyed = false;
  private sweep: ReturnType<typeof setInterval>;
  private readonly onManifest: (ev: string, d: ManifestLoadingData) => void;
  private readonly onLevel: (ev: string, d: LevelLoadedData) => void;
  private readonly onError: (ev: string, d: ErrorData) => void;
  private readonly onDestroy: () => void;
  private readonly onMedia: (ev: string, d: { media: HTMLMediaElement }) => void;

  constructor(
    readonly hls: Hls,
    private readonly opts: ShoalOptions = {},
  ) {
    super();
    this.subtle = defaultSubtle();
    if (opts.p2p === false) this.fallbackReason = "P2P disabled by option";
    else if (!this.subtle) this.fallbackReason = "no crypto.subtle (not a secure context): pieces cannot be verified";
    else if (typeof globalThis.RTCPeerConnection !== "function") this.fallbackReason = "no RTCPeerConnection";

    const config = hls.config as HlsConfig;
    const Base = config.loader as unknown as new (c: HlsConfig) => Loader<LoaderContext>;
    config.fLoader = fragmentLoader(this, Base) as unknown as HlsConfig["fLoader"];

    this.onManifest = (_ev, d) => this.prefetchKey(d.url);
    this.onLevel = (_ev, d) => this.notePlaylist(d);
    this.onError = (_ev, d) => {
      if (d.details === "bufferStalledError") this.stalls++;
    };
    this.onDestroy = () => this.destroy();
    this.onMedia = (_ev, d) => this.qoe.attach(d.media);
    if (hls.media) this.qoe.attach(hls.media);
    hls.on("hlsMediaAttached" as never, this.onMedia as never);
    hls.on("hlsManifestLoading" as never, this.onManifest as never);
    hls.on("hlsLevelLoaded" as never, this.onLevel as never);
    hls.on("hlsError" as never, this.onError as never);
    hls.on("hlsDestroying" as never, this.onDestroy as never);
    this.sweep = setInterval(() => this.retireIdle(), 10000);
    if (this.fallbackReason) {
      const reason = this.fallbackReason;
      queueMicrotask(() => this.emit("fallback", { reason }));
    }
  }

  /** edgesFor returns the edge failover, made on first use with origin (the stream's edge) first. */
  private edgesFor(origin: string): EdgeFailover {
    this.edges ??= new EdgeFailover([origin, ...(this.opts.edges ?? [])]);
    return this.edges;
  }

  private wants(stream: string, rendition: string): boolean {
    return (!this.opts.stream || this.opts.stream === stream) && (!this.opts.rendition || this.opts.rendition === rendition);
  }

  private key(stream: string, origin: string): Promise<CryptoKey> {
    let k = this.keys.get(stream);
    if (!k) {
      k = (async () => {
        const text = this.opts.trustedKey ?? (await (await this.edgesFor(origin).fetch(this.opts.keyUrl ?? `${origin}/live/${stream}/key`)).text());
        return importPublicKey(text, this.subtle!);
      })();
      this.keys.set(stream, k);
      k.catch(() => this.keys.delete(stream));
    }
    return k;
  }

  /**
   * prefetchKey fetches the stream's key while hls.js loads the playlist: the swarm, and
   * with it the first fragment's record, waits for the key, so it must not cost a round
   * trip of its own after the playlist. Failures are handled when the swarm is made.
   */
  private prefetchKey(url: string): void {
    if (this.fallbackReason || this.destroyed) return;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return;
    }
    const m = PLAYLIST_PATH.exec(u.pathname);
    if (!m || (this.opts.stream && this.opts.stream !== m[1])) return;
    this.key(m[1], u.origin).catch(() => undefined);
  }

  /** swarmFor returns the swarm of (stream, rendition), made on first use; position: a title's start, for its join. */
  private swarmFor(stream: string, rendition: string, origin: string, position?: number): Promise<Swarm | undefined> {
    const name = `${stream}/${rendition}`;
    const have = this.swarms.get(name);
    if (have) {
      have.used = performance.now();
      return Promise.resolve(have.swarm);
    }
    return this.key(stream, origin).then(
      (key) => {
        if (this.destroyed) return undefined;
        const again = this.swarms.get(name);
        if (again) return again.swarm;
        const swarm = new Swarm({
          trackerUrl: this.opts.trackerUrl ?? origin.replace(/^http/, "ws") + "/tracker",
          trackerUrls: this.opts.trackers,
          stream,
          rendition,
          position,
          uploadCap: this.opts.uploadCap ?? 10e6,
          mayUpload: () => this.consent().upload,
          region: this.opts.region,
          token: this.opts.token,
          subtle: this.subtle!,
          key,
          iceServers: this.opts.iceServers,
          relayOnly: this.opts.relayOnly,
          fetch: this.edgesFor(origin).fetch,
          playback: () => ({ playhead: this.hls.media?.currentTime ?? 0, stalls: this.stalls, startupMs: this.qoe.startupMs(), stalledMs: this.qoe.stalledMs() }),
        });
        swarm.on("tracker", (e) => {
          if (e.edges) this.edgesFor(origin).add(e.edges);
        });
        for (const ev of ["peer", "bad-piece", "policy", "tracker", "banned"] as const) {
          swarm.on(ev, (e) => this.emit(ev, e as never));
        }
        this.swarms.set(name, { swarm, used: performance.now() });
        void swarm.start();
        return swarm;
      },
      (e: Error) => {
        this.fallback(`stream key unavailable: ${e.message}`);
        return undefined;
      },
    );
  }

  private fallback(reason: string): void {
    if (this.fallbackReason) return;
    this.fallbackReason = reason;
    this.emit("fallback", { reason });
  }

  /** route implements Router for the fragment loader. */
  route(ctx: FragmentLoaderContext): ((signal: AbortSignal) => Promise<Uint8Array>) | undefined {
    if (this.fallbackReason || this.destroyed) return undefined;
    const seg = parseSegmentUrl(ctx.url);
    if (!seg || !this.wants(seg.stream, seg.rendition)) return undefined;
    const deadline = this.deadline(ctx);
    return async (signal) => {
      const swarm = await this.swarmFor(seg.stream, seg.rendition, seg.origin);
      if (!swarm) throw new Error("P2P unavailable");
      return swarm.load(seg.id, ctx.url, deadline, signal);
    };
  }

  /**
   * deadline estimates when playback needs the fragment (performance.now() ms): its
   * start minus the playhead, in real time. Without buffered media (startup, after a
   * seek) it is now: the edge serves it at once.
   */
  private deadline(ctx: FragmentLoaderContext): number {
    const now = performance.now();
    const media = this.hls.media;
    if (!media || media.buffered.length === 0 || media.paused) return now;
    const ahead = ctx.frag.start - media.currentTime;
    const rate = media.playbackRate > 0 ? media.playbackRate : 1;
    return now + Math.max(0, (ahead * 1000) / rate);
  }

  cdnBytes(n: number): void {
    this.cdnDirect += n;
  }

  private notePlaylist(d: LevelLoadedData): void {
    if (this.fallbackReason || this.destroyed || !d.details) return;
    const frags = d.details.fragments;
    if (frags.length === 0) return;
    const first = parseSegmentUrl(frags[0].url);
    if (!first || !this.wants(first.stream, first.rendition)) return;
    if (!d.details.live) {
      // A title (vod.ts): hls.js asks for what it buffers, wherever the viewer seeks.
      const start = this.hls.config.startPosition;
      const position = Math.max(0, start >= 0 ? start : (this.hls.media?.currentTime ?? 0));
      void this.swarmFor(first.stream, first.rendition, first.origin, position).then((sw) => sw?.noteTitle());
      return;
    }
    const segs: { id: SegmentId; url: string }[] = [];
    for (const f of frags) {
      const s = parseSegmentUrl(f.url);
      if (s && s.stream === first.stream && s.rendition === first.rendition) segs.push({ id: s.id, url: f.url });
    }
    void this.swarmFor(first.stream, first.rendition, first.origin).then((sw) => sw?.notePlaylist(segs));
  }

  /** retireIdle closes swarms of renditions hls.js stopped playing (ABR switches). */
  private retireIdle(): void {
    const now = performance.now();
    for (const [name, s] of this.swarms) {
      if (now - s.used > 60000 && this.swarms.size > 1) {
        this.retire(name);
      }
    }
  }

  private retire(name: string): void {
    const s = this.swarms.get(name);
    if (!s) return;
    const st = s.swarm.stats;
    this.retired.bytesCdn += st.bytesCdn;
    this.retired.bytesP2P += st.bytesP2P;
    this.retired.bytesUploaded += st.bytesUploaded;
    this.retired.bytesDuplicate += st.bytesDuplicate;
    this.retired.badPieces += st.badPieces;
    s.swarm.destroy();
    this.swarms.delete(name);
  }

  /** consent is whether this page may upload now (read on every upload decision, so a
   * connection turning cellular stops uploads at once). */
  consent(): Consent {
    return uploadConsent(this.opts, browserConnection());
  }

  /** stats returns the counters since the SDK was attached. */
  stats(): ShoalStats {
    const t = { ...this.retired, peers: 0 };
    let peerId = "";
    for (const { swarm } of this.swarms.values()) {
      t.bytesCdn += swarm.stats.bytesCdn;
      t.bytesP2P += swarm.stats.bytesP2P;
      t.bytesUploaded += swarm.stats.bytesUploaded;
      t.bytesDuplicate += swarm.stats.bytesDuplicate;
      t.badPieces += swarm.stats.badPieces;
      t.peers += swarm.stats.peers;
      peerId = swarm.selfId || peerId;
    }
    t.bytesCdn += this.cdnDirect;
    const total = t.bytesCdn + t.bytesP2P;
    return {
      ...t,
      stalls: this.stalls,
      mode: this.fallbackReason ? "cdn" : "p2p",
      fallbackReason: this.fallbackReason,
      peerId,
      offload: total > 0 ? t.bytesP2P / total : 0,
      uploadOff: this.consent().reason,
    };
  }

  /** swarm returns the swarm of a rendition (for diagnostics and tests). */
  swarm(stream: string, rendition: string): Swarm | undefined {
    return this.swarms.get(`${stream}/${rendition}`)?.swarm;
  }

  /** destroy leaves every swarm; called by hls.destroy(). */
  destroy(): void {
    if (this.destroyed) return;
    for (const name of [...this.swarms.keys()]) this.retire(name);
    this.destroyed = true;
    clearInterval(this.sweep);
    this.hls.off("hlsManifestLoading" as never, this.onManifest as never);
    this.hls.off("hlsLevelLoaded" as never, this.onLevel as never);
    this.hls.off("hlsError" as never, this.onError as never);
    this.hls.off("hlsDestroying" as never, this.onDestroy as never);
    this.hls.off("hlsMediaAttached" as never, this.onMedia as never);
    this.qoe.detach();
    this.removeAllListeners();
  }
}

/** attach is `new ShoalP2P(hls, opts)`. */
export function attach(hls: Hls, opts?: ShoalOptions): ShoalP2P {
  return new ShoalP2P(hls, opts);
}
