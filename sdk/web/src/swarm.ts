// One swarm (stream, rendition): the tracker session, the neighbours, the live window of
// segments with their verified pieces, and the piece scheduler. The scheduler mirrors
// internal/scheduler (NOTES.md) in a simpler form:
//
//  1. urgent → edge: a piece due within URGENT_MS that is not in flight comes from the
//     edge (HTTP Range), so P2P can never cause a stall;
//  2. handover: a neighbour request still in flight HANDOVER_MS before the deadline, or
//     older than its timeout, is cancelled and re-issued (another holder, or the edge);
//  3. P2P off → edge;
//  4. seeding by stripes: a seeder (the tracker's `stripe`) fetches its stripe of every new
//     segment from the edge at once, and the swarm spreads it;
//  5. neighbours: other pieces go to a non-choking neighbour that announced them, the one
//     with the fewest requests outstanding, a few pieces in flight per neighbour;
//  8. fallback: a piece no neighbour holds is fetched from the edge at a moment hashed per
//     (peer, segment, block of 8 pieces) within FALLBACK_MS before the urgent window.
//
// Every piece, whatever its source, is verified against the segment's signed record before
// it is stored, announced (HAVE), served or handed to the player.

import { Emitter } from "./emitter.js";
import { Peer, type PeerHost, type PeerOptions } from "./peer.js";
import { parseRecord, pieceLen, RecordError, verifyPiece, type SegmentRecord, type Subtle } from "./record.js";
import { TrackerClient } from "./tracker.js";
import type { Policy, SignalData, Stripe } from "./tracker-message.js";
import { PIECE_SIZE, bitSet, bitfieldLen, segmentName, type Message, type SegmentId } from "./wire.js";

export const URGENT_MS = 1500;
export const HANDOVER_MS = 750;
export const FALLBACK_MS = 500;
const MIN_TIMEOUT_MS = 500;
const PIECES_IN_FLIGHT = 12; // per neighbour: ~200 KB, a round trip at ~10 Mbit/s
const WINDOW = 16; // segments kept (the origin's live window is 12)
const MAX_EARLY_PIECES = 64; // pieces waiting for their record, per swarm
const TICK_MS = 100;
const STATS_MS = 5000;

export interface SwarmOptions extends PeerOptions {
  trackerUrl: string;
  stream: string;
  rendition: string;
  /** bit/s we upload at most; 0: never upload. */
  uploadCap: number;
  region?: string;
  token?: string;
  subtle: Subtle;
  key: CryptoKey;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
  /** Observer of playback for stats: playhead seconds and stalls so far. */
  playback?: () => { playhead: number; stalls: number };
}

export interface SwarmEvents {
  peer: { id: string; connected: boolean; reason?: string };
  "bad-piece": { peer: string; segment: string; piece: number };
  policy: Policy;
  stripe: Stripe;
  /** The tracker refused or lost us; pieces keep coming from the edge. */
  tracker: { connected: boolean; reason?: string };
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
  /** Peers that timed out on a piece: avoided for it. */
  readonly avoid = new Map<number, Set<string>>();
  deadline = Infinity;
  /** Seed our stripe: the segment appeared at the live edge after we joined. */
  seed = false;
  edgeFailures = 0;
  waiters: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  readonly noticed = performance.now();
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

/** StripeOf mirrors scheduler.StripeOf: the stripe piece i of n belongs to. */
export function stripeOf(seq: bigint, i: number, n: number, count: number): number {
  if (count <= 1 || n <= 0) return 0;
  const block = Math.floor((i * count) / n);
  return Number((BigInt(block) + seq) % BigInt(count));
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Swarm is the P2P engine of one rendition. */
export class Swarm extends Emitter<SwarmEvents> implements PeerHost {
  readonly stream: string;
  readonly rendition: string;
  selfId = "";
  readonly tracker: TrackerClient;
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
  private bucket = 0;
  private bucketAt = performance.now();
  private readonly fetchFn: typeof fetch;
  private pendingHave = new Map<Segment, number[]>();
  private readonly byPeer = new Map<string, { up: number; down: number }>();
  /** Segment names of the last playlist. */
  private readonly listed = new Set<string>();
  readonly stats: SwarmStats = { bytesCdn: 0, bytesP2P: 0, bytesUploaded: 0, bytesDuplicate: 0, badPieces: 0, peers: 0 };

  constructor(private readonly opts: SwarmOptions) {
    super();
    this.stream = opts.stream;
    this.rendition = opts.rendition;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.tracker = new TrackerClient({
      url: opts.trackerUrl,
      stream: opts.stream,
      rendition: opts.rendition,
      uploadCapacity: opts.uploadCap,
      region: opts.region,
      token: opts.token,
      WebSocket: opts.WebSocket,
    });
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
  }

  /** start joins the tracker. Failure leaves the swarm working CDN-only. */
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
    t.on("close", (c) => {
      this.emit("tracker", { connected: false, reason: `closed ${c.code} ${c.reason}` });
    });
    try {
      const w = await t.join();
      if (this.destroyed) {
        t.close();
        return;
      }
      this.selfId = w.peer_id;
      this.stripe = w.stripe ?? { index: 0, count: 0 };
      this.applyPolicy(w.policy);
      this.emit("tracker", { connected: true });
      for (const nb of w.neighbours) this.connect(nb.peer_id, nb.initiator);
      this.statsTimer = setInterval(() => this.sendStats(), STATS_MS);
    } catch (e) {
      this.emit("tracker", { connected: false, reason: (e as Error).message });
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
    let cap = this.opts.uploadCap;
    if (this.policy.max_upload > 0) cap = cap > 0 ? Math.min(cap, this.policy.max_upload) : 0;
    return Math.max(0, Math.min(0xffffffff, Math.floor(cap / 1000)));
  }

  private connect(id: string, initiator: boolean): void {
    if (this.destroyed || !this.p2p || this.peers.has(id) || this.banned.has(id) || id === this.selfId) return;
    const p = new Peer(id, initiator, this, this.opts);
    this.peers.set(id, p);
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

  takeUpload(bytes: number): boolean {
    const rate = (this.uploadKbps() * 1000) / 8; // bytes/s
    if (rate <= 0) return false;
    const now = performance.now();
    const burst = Math.max(4 * PIECE_SIZE, rate / 4);
    this.bucket = Math.min(burst, this.bucket + ((now - this.bucketAt) / 1000) * rate);
    this.bucketAt = now;
    if (this.bucket < bytes) return false;
    this.bucket -= bytes;
    return true;
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
   * Segments that left it are forgotten; ones that appear after the first playlist are
   * new at the live edge, so a seeder fetches its stripe of them at once.
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
      // New at the live edge (not in the first playlist we saw): seed our stripe of it.
      // hls.js may have asked for it (load) before this playlist reached us.
      this.listed.add(name);
      let s = this.segs.get(name);
      if (!s) this.segs.set(name, (s = new Segment(id, url)));
      s.seed = !first;
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
            this.drainEarly(s);
            this.schedule();
            return rec;
          } catch {
            await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
          }
        }
        s.recPromise = undefined; // fetched again when wanted
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

  private timeoutMs(p: Peer): number {
    return Math.max(MIN_TIMEOUT_MS, 4 * (p.rttMs + (p.outstanding.size * PIECE_SIZE * 8) / 10e6 * 1000));
  }

  /** tick is the scheduler: run on every event and every TICK_MS. */
  private tick(): void {
    if (this.destroyed) return;
    const now = performance.now();
    for (const p of this.peers.values()) p.pump();
    const open = [...this.peers.values()].filter((p) => p.open && p.remoteUploadKbps > 0);
    for (const s of this.window()) {
      if (!s.rec || s.complete) continue;
      if (s.deadline === Infinity && !s.seed && s.waiters.length === 0 && open.length === 0) continue;
      const rec = s.rec;
      const urgentAt = s.deadline - URGENT_MS;
      const edge: number[] = [];
      const asks = new Map<Peer, number[]>();
      // Rule 2: handover and timeouts.
      for (const [i, r] of s.inflight) {
        if (r.from === "edge") continue;
        const late = now > s.deadline - HANDOVER_MS;
        const timedOut = now - r.at > this.timeoutMs(r.from);
        if (late || timedOut) {
          r.from.cancel(s.id, i);
          s.inflight.delete(i);
          if (timedOut) {
            let a = s.avoid.get(i);
            if (!a) s.avoid.set(i, (a = new Set()));
            a.add(r.from.id);
          }
        }
      }
      const mine = this.stripe.count > 0 && s.seed && this.uploadKbps() > 0;
      for (let i = 0; i < rec.count; i++) {
        if (s.holds(i) || s.inflight.has(i)) continue;
        // Rules 1, 3, 4.
        if (now >= urgentAt || !this.p2p || (mine && stripeOf(s.id.seq, i, rec.count, this.stripe.count) === this.stripe.index)) {
          edge.push(i);
          continue;
        }
        // Rule 5.
        const avoid = s.avoid.get(i);
        let best: Peer | undefined;
        let holders = 0;
        for (const p of open) {
          if (!p.holds(s.name, i) || avoid?.has(p.id)) continue;
          holders++;
          if (p.chokesUs || p.backoffUntil > now) continue;
          const load = p.outstanding.size + (asks.get(p)?.length ?? 0);
          if (load >= PIECES_IN_FLIGHT) continue;
          if (!best || load < best.outstanding.size + (asks.get(best)?.length ?? 0)) best = p;
        }
        if (best) {
          let a = asks.get(best);
          if (!a) asks.set(best, (a = []));
          a.push(i);
          continue;
        }
        // Rule 8: nobody near us has it.
        if (holders === 0 && s.deadline !== Infinity) {
          const h = hash32(`${this.selfId}/${s.name}/${i >> 3}`) / 2 ** 32;
          if (now >= urgentAt - FALLBACK_MS * (1 - h)) edge.push(i);
        }
      }
      for (const [p, pieces] of asks) {
        for (const [first, count] of runs(pieces)) {
          for (let i = first; i < first + count; i++) s.inflight.set(i, { from: p, at: now });
          p.request(s.id, first, count);
        }
      }
      if (edge.length > 0) {
        for (const [first, count] of runs(edge)) void this.fetchEdge(s, first, count);
      }
    }
    this.flushHaves();
  }

  /** fetchEdge fetches pieces [first, first+count) with one Range request. */
  private async fetchEdge(s: Segment, first: number, count: number): Promise<void> {
    const rec = s.rec!;
    for (let i = first; i < first + count; i++) s.inflight.set(i, { from: "edge", at: performance.now() });
    const start = first * PIECE_SIZE;
    const end = Math.min(rec.size, (first + count) * PIECE_SIZE);
    let body: Uint8Array | undefined;
    try {
      const r = await this.fetchFn(s.url, { headers: { Range: `bytes=${start}-${end - 1}` } });
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

  /** flushHaves announces newly verified pieces, one HAVE per run. */
  private flushHaves(): void {
    if (this.pendingHave.size === 0) return;
    const open = [...this.peers.values()].filter((p) => p.open);
    for (const [s, pieces] of this.pendingHave) {
      for (const [first, count] of runs(pieces.sort((a, b) => a - b))) {
        for (const p of open) p.send({ type: "have", epoch: s.id.epoch, seq: s.id.seq, first, count });
      }
    }
    this.pendingHave.clear();
  }

  private sendStats(): void {
    const pb = this.opts.playback?.() ?? { playhead: 0, stalls: 0 };
    this.tracker.stats({ bytesCdn: this.stats.bytesCdn, bytesP2P: this.stats.bytesP2P, bytesUp: this.stats.bytesUploaded, stalls: pb.stalls, playhead: pb.playhead, peers: this.stats.peers });
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
