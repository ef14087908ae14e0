// One swarm (stream, rendition): the tracker session, the neighbours, the live window of
// segments with their verified pieces, and the piece scheduling. The decisions (what comes
// from the edge and why, what is asked of which neighbour, what is cancelled) are not made
// here but by scheduler.ts, a port of the Go peer's internal/scheduler held to it by the
// shared vectors (testdata/scheduler, docs/scheduler-vectors.md): tick() hands it a
// snapshot of the swarm and carries out the plan. So a browser follows the same rules as a
// Go peer: urgent pieces from the edge, handover, seeding its stripe while it can spread,
// deadline-then-rarest neighbour requests, timeouts and the hashed edge fallback.
//
// Every piece, whatever its source, is verified against the segment's signed record before
// it is stored, announced (HAVE), served or handed to the player.

import { Emitter } from "./emitter.js";
import { MAX_BUFFERED, Peer, type PeerHost, type PeerOptions } from "./peer.js";
import { parseRecord, pieceLen, RecordError, verifyPiece, type SegmentRecord, type Subtle } from "./record.js";
import { DEFAULT_URGENT_MS, EDGE, schedule, stripeOf, type Neighbour as SchedNeighbour, type Pending, type PieceSet, type Segment as SchedSegment } from "./scheduler.js";
import { TrackerClient, TrackerError } from "./tracker.js";
import type { Policy, SignalData, Stripe } from "./tracker-message.js";
import { UploadLine, type UploadJob } from "./upload.js";
import { DEFAULT_VOD_KEEP_BYTES, vodEvictions, vodPolicy } from "./vod.js";
import { PIECE_SIZE, Reason, bitSet, bitfieldLen, segmentName, type Message, type SegmentId } from "./wire.js";

const WINDOW = 16; // segments kept (the origin's live window is 12)
const MAX_EARLY_PIECES = 64; // pieces waiting for their record, per swarm
const TICK_MS = 100;
const STATS_MS = 5000;
// Tracker reconnection: jittered, doubling after each failure (as the Go peer).
const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15000;

export interface SwarmOptions extends PeerOptions {
  trackerUrl: string;
  /** More trackers (the nodes of a tracker cluster): a lost or refused session moves to the next. */
  trackerUrls?: string[];
  stream: string;
  rendition: string;
  /** On a title: segment bytes kept for neighbours (default 48 MiB; vod.ts). */
  vodKeepBytes?: number;
  /** On a title: where playback starts, seconds (sent in the join; a rejoin sends the playhead). */
  position?: number;
  /** bit/s we upload at most; 0: never upload. */
  uploadCap: number;
  /** Asked whenever the cap is read: false stops uploading (consent.ts); default: always true. */
  mayUpload?: () => boolean;
  region?: string;
  token?: string;
  subtle: Subtle;
  key: CryptoKey;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
  /** Observer of playback for stats: playhead seconds and stalls so far. */
  playback?: () => { playhead: number; stalls: number; startupMs?: number; stalledMs?: number };
}

export interface SwarmEvents {
  peer: { id: string; connected: boolean; reason?: string };
  "bad-piece": { peer: string; segment: string; piece: number };
  policy: Policy;
  stripe: Stripe;
  /** The tracker refused or lost us; pieces keep coming from the edge. */
  /** edges and trackers: the failover lists of the welcome, if it had any. */
  tracker: { connected: boolean; reason?: string; edges?: string[]; trackers?: string[] };
  banned: { reason: string };
}

export interface SwarmStats {
  bytesCdn: number;
  bytesP2P: number;
  bytesUploaded: number;
  /** Verified pieces from peers we already had (late duplicates). */
  bytesDuplicate: number;
  badPieces: number;
  peers: number;
}

class Segment {
  readonly name: string;
  rec?: SegmentRecord;
  recPromise?: Promise<SegmentRecord | undefined>;
  data?: Uint8Array;
  have?: Uint8Array;
  haveCount = 0;
  /** Piece → who serves it: a Peer, or "edge". */
  readonly inflight = new Map<number, { from: Peer | "edge"; at: number }>();
  /** Infinity until the player asks for it: never urgent, but seeded and prefetched. */
  deadline = Infinity;
  edgeFailures = 0;
  /** The whole segment's edge GET, started with its record when due now (see load). */
  prefetch?: { res: Promise<Response>; ac: AbortController };
  waiters: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  /** The scheduler's view of our pieces. */
  readonly haveSet: PieceSet = { has: (i) => this.holds(i) };
  constructor(
    readonly id: SegmentId,
    readonly url: string,
  ) {
    this.name = segmentName(id);
  }
  get complete(): boolean {
    return !!this.rec && this.haveCount === this.rec.count;
  }
  holds(i: number): boolean {
    return !!this.have && (this.have[i >> 3] & (0x80 >> (i & 7))) !== 0;
  }
}

/** Swarm is the P2P engine of one rendition. */
export class Swarm extends Emitter<SwarmEvents> implements PeerHost {
  readonly stream: string;
  readonly rendition: string;
  selfId = "";
  tracker: TrackerClient;
  private trackerIndex = 0;
  private backoffMs = MIN_BACKOFF_MS;
  private rejoinTimer?: ReturnType<typeof setTimeout>;
  private readonly peers = new Map<string, Peer>();
  private readonly banned = new Set<string>(); // peers we closed for a violation
  private readonly segs = new Map<string, Segment>();
  private early: { peer: Peer; m: Extract<Message, { type: "piece" }> }[] = [];
  private p2p = true;
  private policy: Policy = { p2p_enabled: true, max_upload: 0, neighbours: 0 };
  private stripe: Stripe = { index: 0, count: 0 };
  private tickTimer?: ReturnType<typeof setInterval>;
  private statsTimer?: ReturnType<typeof setInterval>;
  private tickQueued = false;
  private destroyed = false;
  /** The peer-wide upload line (upload.ts): pacing, order across links, displacement. */
  private readonly line = new UploadLine<Peer>();
  private lineTimer?: ReturnType<typeof setTimeout>;
  /** Links whose data channel was too full to take another piece: written() when it drains. */
  private readonly writerFull = new Set<Peer>();
  private readonly fetchFn: typeof fetch;
  /** Tracker nodes the last welcome advertised, tried after the configured ones. */
  private welcomeTrackers: string[] = [];
  private pendingHave = new Map<Segment, number[]>();
  private readonly byPeer = new Map<string, { up: number; down: number }>();
  /** Segment names of the last playlist. */
  private readonly listed = new Set<string>();
  /** Playing an on-demand title (vod.ts); playSeq: the segment hls.js asked for last. */
  private vod = false;
  private playSeq = 0n;
  readonly stats: SwarmStats = { bytesCdn: 0, bytesP2P: 0, bytesUploaded: 0, bytesDuplicate: 0, badPieces: 0, peers: 0 };

  constructor(private readonly opts: SwarmOptions) {
    super();
    this.stream = opts.stream;
    this.rendition = opts.rendition;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.tracker = this.newTracker();
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
  }

  private newTracker(): TrackerClient {
    const urls = [this.opts.trackerUrl, ...(this.opts.trackerUrls ?? []), ...this.welcomeTrackers.filter((u) => u !== this.opts.trackerUrl && !this.opts.trackerUrls?.includes(u))];
    return new TrackerClient({
      url: urls[this.trackerIndex++ % urls.length],
      stream: this.opts.stream,
      rendition: this.opts.rendition,
      uploadCapacity: this.mayUpload() ? this.opts.uploadCap : 0,
      region: this.opts.region,
      token: this.opts.token,
      position: this.vod ? Math.max(0, this.opts.playback?.().playhead ?? 0) : this.opts.position,
      WebSocket: this.opts.WebSocket,
    });
  }

  /** rejoin starts a new session (new peer id) on the next tracker after a jittered pause. */
  private rejoin(failed: boolean): void {
    if (this.destroyed || this.rejoinTimer) return;
    const wait = failed ? this.backoffMs / 2 + Math.random() * (this.backoffMs / 2) : Math.random() * MIN_BACKOFF_MS;
    if (failed) this.backoffMs = Math.min(2 * this.backoffMs, MAX_BACKOFF_MS);
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = undefined;
      if (this.destroyed) return;
      clearInterval(this.statsTimer);
      // Links belong to the old id: the new session brings new neighbours.
      for (const p of [...this.peers.values()]) p.close("new tracker session");
      this.tracker = this.newTracker();
      void this.start();
    }, wait);
  }

  /** start joins the tracker; a lost or refused session is retried on the next tracker.
   * Meanwhile the swarm works CDN-only. */
  async start(): Promise<void> {
    const t = this.tracker;
    t.on("neighbours", (n) => {
      for (const id of n.remove) this.peers.get(id)?.close("removed by tracker");
      for (const nb of n.add) this.connect(nb.peer_id, nb.initiator);
    });
    t.on("signal", (s) => this.onSignal(s.from, s.data));
    t.on("policy", (p) => this.applyPolicy(p));
    t.on("stripe", (s) => {
      this.stripe = s;
      this.emit("stripe", s);
    });
    t.on("banned", (b) => this.emit("banned", b));
    let welcomed = false;
    t.on("close", (c) => {
      this.emit("tracker", { connected: false, reason: `closed ${c.code} ${c.reason}` });
      if (t === this.tracker) this.rejoin(!welcomed);
    });
    try {
      const w = await t.join();
      if (this.destroyed) {
        t.close();
        return;
      }
      welcomed = true;
      this.backoffMs = MIN_BACKOFF_MS;
      this.selfId = w.peer_id;
      this.stripe = w.stripe ?? { index: 0, count: 0 };
      this.applyPolicy(w.policy);
      if (w.trackers) this.welcomeTrackers = w.trackers;
      this.emit("tracker", { connected: true, trackers: w.trackers, edges: w.edges });
      for (const nb of w.neighbours) this.connect(nb.peer_id, nb.initiator);
      this.statsTimer = setInterval(() => this.sendStats(), STATS_MS);
    } catch (e) {
      this.emit("tracker", { connected: false, reason: (e as Error).message });
      if (t === this.tracker && !(e instanceof TrackerError && e.code === "banned")) this.rejoin(true);
    }
  }

  private applyPolicy(p: Policy): void {
    this.policy = p;
    this.p2p = p.p2p_enabled;
    if (!this.p2p) for (const peer of [...this.peers.values()]) peer.close("P2P disabled by policy");
    this.emit("policy", p);
  }

  /** uploadKbps is our upload cap (the smaller of ours and the policy's). */
  uploadKbps(): number {
    let cap = this.mayUpload() ? this.opts.uploadCap : 0;
    if (this.policy.max_upload > 0) cap = cap > 0 ? Math.min(cap, this.policy.max_upload) : 0;
    return Math.max(0, Math.min(0xffffffff, Math.floor(cap / 1000)));
  }

  private mayUpload(): boolean {
    return this.opts.mayUpload?.() ?? true;
  }

  private connect(id: string, initiator: boolean): void {
    if (this.destroyed || !this.p2p || this.peers.has(id) || this.banned.has(id) || id === this.selfId) return;
    const p = new Peer(id, initiator, this, this.opts);
    this.peers.set(id, p);
    this.line.add(p);
  }

  private onSignal(from: string, d: SignalData): void {
    let p = this.peers.get(from);
    if (!p && d.type === "offer") {
      // The tracker introduced them as initiator; their offer may beat the neighbours message.
      this.connect(from, false);
      p = this.peers.get(from);
    }
    void p?.handleSignal(d);
  }

  signal(to: string, data: SignalData): void {
    this.tracker.signal(to, data);
  }

  opened(p: Peer): void {
    this.stats.peers = [...this.peers.values()].filter((x) => x.open).length;
    // Announce what we hold, oldest first.
    for (const s of this.window()) {
      if (s.rec && s.have && s.haveCount > 0) p.send({ type: "bitfield", epoch: s.id.epoch, seq: s.id.seq, pieces: s.rec.count, bitmap: s.have });
    }
    this.emit("peer", { id: p.id, connected: true });
    this.schedule();
  }

  closed(p: Peer, why: string, violation: boolean): void {
    if (this.peers.get(p.id) === p) this.peers.delete(p.id);
    this.line.remove(p);
    this.writerFull.delete(p);
    if (violation) this.banned.add(p.id);
    for (const s of this.segs.values()) {
      for (const [i, r] of s.inflight) if (r.from === p) s.inflight.delete(i);
    }
    this.stats.peers = [...this.peers.values()].filter((x) => x.open).length;
    this.emit("peer", { id: p.id, connected: false, reason: why });
    this.schedule();
  }

  message(p: Peer, m: Message): void {
    switch (m.type) {
      case "piece":
        void this.onPiece(p, m);
        return;
      case "bitfield": {
        const s = this.segs.get(segmentName(m));
        if (s?.rec && m.pieces !== 0 && m.pieces !== s.rec.count) {
          p.close(`BITFIELD of ${m.pieces} pieces, record says ${s.rec.count}`, true);
          return;
        }
        break;
      }
      case "reject":
      case "choke": {
        // Requests to p that were answered or voided are no longer in flight.
        for (const s of this.segs.values()) {
          for (const [i, r] of s.inflight) if (r.from === p && !p.outstanding.has(`${s.name}/${i}`)) s.inflight.delete(i);
        }
        break;
      }
    }
    this.schedule();
  }

  pieceFor(sid: SegmentId, index: number): Uint8Array | undefined | "unknown" {
    const s = this.segs.get(segmentName(sid));
    if (!s || !s.rec || !s.data) return "unknown";
    if (!s.holds(index)) return undefined;
    const off = index * PIECE_SIZE;
    return s.data.subarray(off, off + pieceLen(s.rec, index));
  }

  seeded(sid: SegmentId, index: number): boolean {
    const s = this.segs.get(segmentName(sid));
    return !!s?.rec && this.stripe.count > 0 && stripeOf(sid.seq, index, s.rec.count, this.stripe.count) === this.stripe.index;
  }

  enqueueUpload(p: Peer, jobs: UploadJob[]): number {
    if (this.uploadKbps() === 0) return 0; // no consent (or cap 0) now: nothing queued
    // Live, a full backlog still takes an older segment's piece (upload.ts); on demand a
    // lower seq is not due sooner.
    const { accepted, withdrawn } = this.line.enqueue(p, jobs, !this.vod);
    for (const [o, j] of withdrawn) o.send({ type: "reject", epoch: j.seg.epoch, seq: j.seg.seq, first: j.index, count: 1, reason: Reason.OverCap });
    if (accepted > 0) this.pumpUploads();
    return accepted;
  }

  cancelUpload(p: Peer, seg?: SegmentId, first = 0, count = 0): void {
    this.line.cancel(p, seg, first, count);
  }

  queuedFor(p: Peer, seq: bigint, index: number): boolean {
    return this.line.queuedFor(p, seq, index);
  }

  writable(p: Peer): void {
    if (this.writerFull.delete(p)) {
      this.line.written(p);
      this.pumpUploads();
    }
  }

  /**
   * pumpUploads sends what the upload line releases now. A piece leaves the line once its
   * data channel takes it (as the Go link's writer does, up to MAX_BUFFERED buffered); the
   * line's next turn for that link waits for the channel to drain (writable).
   */
  private pumpUploads(): void {
    clearTimeout(this.lineTimer);
    this.lineTimer = undefined;
    if (this.destroyed) return;
    const kbps = this.uploadKbps();
    if (kbps === 0) {
      // Consent withdrawn: stop at once, and tell the requesters so they ask elsewhere.
      for (const p of this.peers.values()) {
        for (const j of this.line.cancel(p)) p.send({ type: "reject", epoch: j.seg.epoch, seq: j.seg.seq, first: j.index, count: 1, reason: Reason.OverCap });
      }
      return;
    }
    this.line.setRate(kbps * 1000);
    for (const p of this.writerFull) {
      // A drained channel whose low-water event we missed.
      if (p.dc.bufferedAmount + PIECE_SIZE <= MAX_BUFFERED) {
        this.writerFull.delete(p);
        this.line.written(p);
      }
    }
    const now = performance.now();
    for (let out = this.line.release(now); out.length > 0; out = this.line.release(now)) {
      for (const [p, j] of out) {
        const data = this.pieceFor(j.seg, j.index);
        if (!(data instanceof Uint8Array) || !p.open) {
          // Evicted since it was queued: the requester asks elsewhere.
          p.send({ type: "reject", epoch: j.seg.epoch, seq: j.seg.seq, first: j.index, count: 1, reason: data === "unknown" ? Reason.UnknownSegment : Reason.NotHeld });
          this.line.written(p);
          continue;
        }
        p.sendPiece(j.seg, j.index, data);
        if (p.dc.bufferedAmount + PIECE_SIZE <= MAX_BUFFERED) this.line.written(p);
        else this.writerFull.add(p);
      }
    }
    if (this.line.wakeMs !== undefined) this.lineTimer = setTimeout(() => this.pumpUploads(), Math.max(0, this.line.wakeMs - now));
  }

  uploaded(p: Peer, bytes: number): void {
    this.stats.bytesUploaded += bytes;
    this.peerBytes(p.id).up += bytes;
  }

  private peerBytes(id: string): { up: number; down: number } {
    let b = this.byPeer.get(id);
    if (!b) this.byPeer.set(id, (b = { up: 0, down: 0 }));
    return b;
  }

  /** bytesByPeer returns verified bytes received from and sent to each neighbour so far. */
  bytesByPeer(): Record<string, { up: number; down: number }> {
    return Object.fromEntries(this.byPeer);
  }

  private window(): Segment[] {
    return [...this.segs.values()].sort((a, b) => (a.id.seq < b.id.seq ? -1 : a.id.seq > b.id.seq ? 1 : 0));
  }

  /**
   * notePlaylist tells the swarm the segments of the current media playlist (oldest first).
   * Segments that left it are forgotten. Ones that appear after the first playlist are new
   * at the live edge: their records are fetched at once, so the scheduler can seed our
   * stripe of them and prefetch them from neighbours before the player asks. The older
   * ones are wanted only when the player asks for them (load).
   */
  notePlaylist(segs: { id: SegmentId; url: string }[]): void {
    const first = this.listed.size === 0;
    const keep = new Set(segs.map((s) => segmentName(s.id)));
    for (const [name, s] of this.segs) {
      if (!keep.has(name) && s.waiters.length === 0) this.segs.delete(name);
    }
    for (const { id, url } of segs) {
      const name = segmentName(id);
      if (this.listed.has(name)) continue;
      // hls.js may have asked for it (load) before this playlist reached us.
      this.listed.add(name);
      let s = this.segs.get(name);
      if (!s) this.segs.set(name, (s = new Segment(id, url)));
      if (!first) void this.loadRecord(s);
    }
    for (const name of this.listed) if (!keep.has(name)) this.listed.delete(name);
    while (this.segs.size > WINDOW) {
      const oldest = this.window().find((s) => s.waiters.length === 0);
      if (!oldest) break;
      this.segs.delete(oldest.name);
    }
    // Forget what neighbours announced of segments that left the window (bounded memory).
    for (const p of this.peers.values()) {
      for (const name of p.has.keys()) if (!this.segs.has(name) && !keep.has(name)) p.has.delete(name);
      for (const name of p.counts.keys()) if (!this.segs.has(name) && !keep.has(name)) p.counts.delete(name);
    }
    this.schedule();
  }

  /**
   * noteTitle: the playlist is a title (hls.js: not live). Its segments are not noted from
   * the playlist (hls.js asks for what it buffers, anywhere in the title); they stay until
   * the byte budget (options.vodKeepBytes) drops the furthest from the playhead.
   */
  noteTitle(): void {
    this.vod = true;
  }

  /** keepTitle drops, and withdraws from neighbours, what is held beyond the budget. */
  private keepTitle(): void {
    const held = [...this.segs.values()].map((s) => ({
      name: s.name,
      seq: s.id.seq,
      bytes: s.data?.length ?? 0, // allocated whole once its record is in
      busy: s.waiters.length > 0 || s.inflight.size > 0,
    }));
    for (const name of vodEvictions(held, this.playSeq, this.opts.vodKeepBytes ?? DEFAULT_VOD_KEEP_BYTES)) {
      const s = this.segs.get(name)!;
      this.segs.delete(name);
      for (const p of this.peers.values()) {
        if (p.open) p.send({ type: "bitfield", epoch: s.id.epoch, seq: s.id.seq, pieces: 0, bitmap: new Uint8Array(0) });
      }
    }
  }

  private recordUrl(s: Segment): string {
    const u = new URL(s.url);
    u.pathname = u.pathname.replace(/\.(ts|m4s)$/, ".rec");
    return u.toString();
  }

  private loadRecord(s: Segment): Promise<SegmentRecord | undefined> {
    if (!s.recPromise) {
      s.recPromise = (async () => {
        for (let attempt = 0; attempt < 3 && !this.destroyed; attempt++) {
          try {
            const r = await this.fetchFn(this.recordUrl(s));
            if (!r.ok) throw new Error(`record: HTTP ${r.status}`);
            const rec = await parseRecord(new Uint8Array(await r.arrayBuffer()), this.opts.key, this.opts.subtle);
            if (rec.epoch !== s.id.epoch || rec.seq !== s.id.seq || rec.stream !== this.stream || rec.rendition !== this.rendition) {
              throw new RecordError("malformed", "record of another segment");
            }
            s.rec = rec;
            s.data = new Uint8Array(rec.size);
            s.have = new Uint8Array(bitfieldLen(rec.count));
            // Marks every piece in flight from the edge before the scheduler sees the record.
            if (s.prefetch) void this.fetchEdge(s, 0, rec.count, s.prefetch.res);
            s.prefetch = undefined;
            this.drainEarly(s);
            this.schedule();
            return rec;
          } catch {
            await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
          }
        }
        s.recPromise = undefined; // fetched again when wanted
        s.prefetch?.ac.abort();
        s.prefetch = undefined;
        return undefined;
      })();
    }
    return s.recPromise;
  }

  /**
   * load returns the verified bytes of the segment at url, due for playback at
   * deadline (performance.now() milliseconds). Rejects when it cannot be had with its
   * record (the caller then falls back to a plain CDN fetch).
   */
  async load(id: SegmentId, url: string, deadline: number, signal?: AbortSignal): Promise<Uint8Array> {
    let s = this.segs.get(segmentName(id));
    if (!s) {
      s = new Segment(id, url);
      this.segs.set(s.name, s);
    }
    s.deadline = Math.min(s.deadline, deadline);
    this.playSeq = id.seq;
    // Due within the urgent horizon and no record yet (the first fragment, a seek): the
    // scheduler would fetch it all from the edge once the record is verified, so the GET
    // starts now, alongside the record's, instead of a round trip later.
    if (!s.rec && !s.prefetch && deadline - performance.now() <= DEFAULT_URGENT_MS) {
      const ac = new AbortController();
      s.prefetch = { res: this.fetchFn(url, { signal: ac.signal }), ac };
      s.prefetch.res.catch(() => undefined); // seen by fetchEdge, or aborted
    }
    const rec = await this.loadRecord(s);
    if (!rec) throw new Error(`no verified record for ${s.name}`);
    if (s.complete) return s.data!.slice();
    const seg = s;
    return new Promise<Uint8Array>((resolve, reject) => {
      const w = { resolve, reject };
      seg.waiters.push(w);
      signal?.addEventListener("abort", () => {
        seg.waiters = seg.waiters.filter((x) => x !== w);
        reject(new DOMException("aborted", "AbortError"));
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.tickQueued || this.destroyed) return;
    this.tickQueued = true;
    queueMicrotask(() => {
      this.tickQueued = false;
      this.tick();
    });
  }

  /**
   * tick runs the scheduler (on every event and every TICK_MS): it hands scheduler.ts a
   * snapshot of the swarm and carries out the plan, cancels first so that a piece moved
   * to another source is never in flight twice.
   */
  private tick(): void {
    if (this.destroyed) return;
    const now = performance.now();
    if (this.vod) this.keepTitle();
    this.pumpUploads();
    const segments: SchedSegment[] = [];
    const inFlight: Pending[] = [];
    const neighbours: SchedNeighbour[] = [];
    // The scheduler keys segments by seq, unique within a stream's epoch; the rare
    // duplicate across an epoch change waits until the older one leaves the window.
    const bySeq = new Map<bigint, Segment>();
    for (const s of this.window()) {
      if (!s.rec || bySeq.has(s.id.seq)) continue;
      bySeq.set(s.id.seq, s);
      if (!s.complete) {
        segments.push({ seq: s.id.seq, size: s.rec.size, pieceSize: s.rec.pieceSize, deadline: s.deadline, have: s.haveSet });
      }
      for (const [i, r] of s.inflight) inFlight.push({ seq: s.id.seq, piece: i, from: r.from === "edge" ? EDGE : r.from.id, since: r.at });
    }
    if (segments.length === 0 && inFlight.length === 0) {
      this.flushHaves();
      return;
    }
    for (const p of this.peers.values()) {
      if (!p.open) continue;
      const have = new Map<bigint, PieceSet>();
      for (const [seq, s] of bySeq) {
        const h = p.has.get(s.name);
        if (h) have.set(seq, h);
      }
      neighbours.push({
        id: p.id,
        have,
        throughput: p.tput, // 0 until measured: the scheduler's default
        rttMs: p.rttMs,
        choking: p.chokesUs || p.backoffUntil > now,
        noUpload: p.remoteUploadKbps === 0,
      });
    }
    const live = { p2p: this.p2p, stripe: this.stripe, noUpload: this.uploadKbps() === 0 };
    const policy = this.vod ? vodPolicy(live) : live;
    const plan = schedule({ now, self: this.selfId, policy, segments, neighbours, inFlight });
    for (const c of plan.cancels) {
      // An edge fetch is not aborted: its pieces stay in flight until verified.
      const s = bySeq.get(c.seq);
      const r = s?.inflight.get(c.piece);
      if (!s || !r || r.from === "edge" || r.from.id !== c.from) continue;
      r.from.cancel(s.id, c.piece);
      s.inflight.delete(c.piece);
    }
    for (const r of plan.edge) void this.fetchEdge(bySeq.get(r.seq)!, r.first, r.count);
    for (const r of plan.requests) {
      const p = this.peers.get(r.from);
      const s = bySeq.get(r.seq)!;
      if (!p) continue;
      for (let i = r.first; i < r.first + r.count; i++) s.inflight.set(i, { from: p, at: now });
      p.request(s.id, r.first, r.count);
    }
    this.flushHaves();
  }

  /**
   * fetchEdge fetches pieces [first, first+count) with one Range request, or takes them
   * from the response of a GET already under way.
   */
  private async fetchEdge(s: Segment, first: number, count: number, res?: Promise<Response>): Promise<void> {
    const rec = s.rec!;
    for (let i = first; i < first + count; i++) s.inflight.set(i, { from: "edge", at: performance.now() });
    const start = first * PIECE_SIZE;
    const end = Math.min(rec.size, (first + count) * PIECE_SIZE);
    let body: Uint8Array | undefined;
    try {
      const r = await (res ?? this.fetchFn(s.url, { headers: { Range: `bytes=${start}-${end - 1}` } }));
      if (r.status === 206) body = new Uint8Array(await r.arrayBuffer());
      else if (r.status === 200) body = new Uint8Array(await r.arrayBuffer()).subarray(start, end);
      else throw new Error(`HTTP ${r.status}`);
      this.stats.bytesCdn += body.length;
    } catch {
      body = undefined;
    }
    // Pieces stay in flight until verified, so that no tick fetches them again meanwhile.
    const release = (i: number) => {
      if (s.inflight.get(i)?.from === "edge") s.inflight.delete(i);
    };
    if (!body || body.length !== end - start) {
      for (let i = first; i < first + count; i++) release(i);
      this.edgeFailed(s, "edge fetch failed");
      return;
    }
    await Promise.all(
      Array.from({ length: count }, async (_, k) => {
        const i = first + k;
        const p = body!.subarray(k * PIECE_SIZE, k * PIECE_SIZE + pieceLen(rec, i));
        try {
          await verifyPiece(rec, i, p, this.opts.subtle);
          this.store(s, i, p);
        } catch {
          release(i);
          this.edgeFailed(s, `edge piece ${i} failed verification`); // operator alarm
        }
      }),
    );
    this.schedule();
  }

  private edgeFailed(s: Segment, why: string): void {
    if (++s.edgeFailures >= 3) {
      for (const w of s.waiters.splice(0)) w.reject(new Error(`${s.name}: ${why}`));
      s.edgeFailures = 0;
    }
    this.schedule();
  }

  private async onPiece(p: Peer, m: Extract<Message, { type: "piece" }>): Promise<void> {
    const s = this.segs.get(segmentName(m));
    if (!s) return; // not (or no longer) in our window: dropped
    if (!s.rec) {
      if (this.early.length < MAX_EARLY_PIECES) this.early.push({ peer: p, m: { ...m, data: m.data.slice() } });
      void this.loadRecord(s);
      return;
    }
    const rec = s.rec;
    const r = s.inflight.get(m.index);
    p.noteDelivery(m.data.length, r?.from === p ? r.at : undefined, performance.now());
    try {
      await verifyPiece(rec, m.index, m.data, this.opts.subtle);
    } catch (e) {
      this.badPiece(p, s, m.index, e instanceof RecordError && e.code === "range" ? "index_out_of_range" : "hash_mismatch");
      return;
    }
    if (s.holds(m.index)) {
      if (s.inflight.get(m.index)?.from === p) s.inflight.delete(m.index);
      this.stats.bytesDuplicate += m.data.length;
      return;
    }
    this.stats.bytesP2P += m.data.length;
    this.peerBytes(p.id).down += m.data.length;
    this.store(s, m.index, m.data);
    this.schedule();
  }

  private drainEarly(s: Segment): void {
    const mine = this.early.filter((e) => segmentName(e.m) === s.name);
    this.early = this.early.filter((e) => segmentName(e.m) !== s.name);
    for (const e of mine) if (!e.peer.closed) void this.onPiece(e.peer, e.m);
  }

  private badPiece(p: Peer, s: Segment, index: number, reason: string): void {
    this.stats.badPieces++;
    this.emit("bad-piece", { peer: p.id, segment: s.name, piece: index });
    if (!this.banned.has(p.id)) this.tracker.report(p.id, s.name, index, reason);
    p.close(`bad piece ${s.name}/${index}`, true);
    this.schedule();
  }

  private store(s: Segment, i: number, data: Uint8Array): void {
    if (s.holds(i) || !s.data || !s.have) return;
    s.data.set(data, i * PIECE_SIZE);
    bitSet(s.have, i);
    s.haveCount++;
    s.inflight.delete(i);
    let h = this.pendingHave.get(s);
    if (!h) this.pendingHave.set(s, (h = []));
    h.push(i);
    if (s.complete) {
      for (const w of s.waiters.splice(0)) w.resolve(s.data.slice());
      for (const [i2, r] of s.inflight) if (r.from !== "edge") r.from.cancel(s.id, i2);
      s.inflight.clear();
    }
    this.schedule();
  }

  /**
   * flushHaves announces newly verified pieces, one HAVE per run, leaving out what
   * each neighbour announced itself (HAVE suppression, docs/wire.md "Announcing").
   */
  private flushHaves(): void {
    if (this.pendingHave.size === 0) return;
    const open = [...this.peers.values()].filter((p) => p.open);
    for (const [s, pieces] of this.pendingHave) {
      pieces.sort((a, b) => a - b);
      for (const p of open) {
        const theirs = p.has.get(s.name);
        const news = theirs ? pieces.filter((i) => !theirs.has(i)) : pieces;
        for (const [first, count] of runs(news)) p.send({ type: "have", epoch: s.id.epoch, seq: s.id.seq, first, count });
      }
    }
    this.pendingHave.clear();
  }

  private sendStats(): void {
    const pb = this.opts.playback?.() ?? { playhead: 0, stalls: 0 };
    this.tracker.stats({ bytesCdn: this.stats.bytesCdn, bytesP2P: this.stats.bytesP2P, bytesUp: this.stats.bytesUploaded, stalls: pb.stalls, playhead: pb.playhead, peers: this.stats.peers, startupMs: pb.startupMs, stalledMs: pb.stalledMs, position: this.vod ? pb.playhead : undefined });
  }

  /** addCdnBytes counts bytes the player fetched from the CDN outside the swarm. */
  addCdnBytes(n: number): void {
    this.stats.bytesCdn += n;
  }

  peerIds(): string[] {
    return [...this.peers.values()].filter((p) => p.open).map((p) => p.id);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.sendStats();
    this.destroyed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.statsTimer);
    clearTimeout(this.rejoinTimer);
    clearTimeout(this.lineTimer);
    for (const p of [...this.peers.values()]) p.close("destroyed");
    for (const s of this.segs.values()) for (const w of s.waiters.splice(0)) w.reject(new Error("destroyed"));
    this.tracker.leave();
    this.removeAllListeners();
  }
}

/** runs coalesces sorted piece indices into [first, count] ranges. */
export function runs(sorted: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === i) last[1]++;
    else out.push([i, 1]);
  }
  return out;
}
