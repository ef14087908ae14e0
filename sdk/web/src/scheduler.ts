// The piece scheduler: a port of internal/scheduler (Schedule, Policy.WithDefaults,
// StripeOf and their hashes), rule for rule and tie-break for tie-break, so that a browser
// peer decides exactly as a Go peer does (internal/scheduler/NOTES.md explains the rules).
// It is checked against the golden vectors the Go scheduler writes
// (testdata/scheduler/vectors.json, docs/scheduler-vectors.md): change both together.
//
// Pure: no clock, no I/O. Times are milliseconds on any one clock (the SDK uses
// performance.now()); durations the Go code computes in nanoseconds are computed the same
// way here, truncated where Go truncates, so that the plans agree to the nanosecond.
// Where Go uses uint64 this uses bigint, wrapped to 64 bits.

import { PIECE_SIZE } from "./wire.js";

/** Piece size of a segment that names none (manifest.PieceSize). */
export const DEFAULT_PIECE_SIZE = PIECE_SIZE;
// Policy defaults (Policy.WithDefaults); NOTES.md says why each is what it is.
export const DEFAULT_URGENT_MS = 1500;
export const DEFAULT_FALLBACK_WINDOW_MS = 500;
export const DEFAULT_MAX_OUTSTANDING = 32;
export const DEFAULT_QUEUE_TARGET_MS = 250;
export const DEFAULT_TIMEOUT_FACTOR = 4;
export const DEFAULT_MIN_TIMEOUT_MS = 500;
export const DEFAULT_SEED_MARGIN_MS = 500;
export const DEFAULT_THROUGHPUT = 256 << 10; // bytes/s
/** Pieces sharing one hashed fallback moment: one 128 KiB Range instead of eight. */
const FALLBACK_BLOCK = 8;

/** The source name of the edge (HTTP) in Pending and Run. */
export const EDGE = "";

/** Why pieces come from the edge ("none": a neighbour request). */
export type Reason = "none" | "p2p_off" | "urgent" | "seed" | "fallback";
const EDGE_REASONS: readonly Reason[] = ["p2p_off", "urgent", "seed", "fallback"]; // Go's order

/** A set of piece indices (a Set<number> will do). */
export interface PieceSet {
  has(i: number): boolean;
}

export interface Stripe {
  index: number;
  count: number;
}

/** Policy tunes the scheduler; missing or non-positive fields take the defaults. */
export interface Policy {
  p2p?: boolean;
  urgentMs?: number;
  handoverMs?: number;
  fallbackWindowMs?: number;
  maxOutstanding?: number;
  queueTargetMs?: number;
  timeoutFactor?: number;
  minTimeoutMs?: number;
  /** bytes/s assumed for a neighbour without an estimate. */
  defaultThroughput?: number;
  stripe?: Stripe;
  seedMarginMs?: number;
  noUpload?: boolean;
}

export type FullPolicy = Required<Policy>;

export interface Segment {
  seq: bigint;
  size: number;
  pieceSize?: number;
  /**
   * When the player needs it (ms). -Infinity is Go's zero time ("needed now"); Infinity,
   * which Go cannot express, is "not asked for yet": never urgent, never a fallback, but
   * seeded and pulled from neighbours.
   */
  deadline: number;
  have?: PieceSet;
}

export interface Neighbour {
  id: string;
  /** Announced pieces per segment seq. */
  have: ReadonlyMap<bigint, PieceSet>;
  /** bytes/s it delivers to us; 0: the policy's default. */
  throughput?: number;
  rttMs?: number;
  /** It takes no new requests now; requests already sent stay. */
  choking?: boolean;
  /** It never uploads: ignored entirely. */
  noUpload?: boolean;
}

/** One outstanding request for one piece. */
export interface Pending {
  seq: bigint;
  piece: number;
  from: string;
  since: number;
}

export interface State {
  now: number;
  self: string;
  policy: Policy;
  segments: readonly Segment[];
  neighbours: readonly Neighbour[];
  inFlight: readonly Pending[];
}

/** Pieces [first, first+count) of seq from one source: a Range request or one REQUEST. */
export interface Run {
  from: string;
  seq: bigint;
  first: number;
  count: number;
  why: Reason;
}

export interface Plan {
  /** Range fetches, most urgent first. */
  edge: Run[];
  /** Neighbour REQUESTs, most urgent first. */
  requests: Run[];
  /** In-flight requests to abandon (the State's own objects). */
  cancels: Pending[];
  /** The next moment the plan changes with no new input; undefined if none. */
  wake?: number;
}

const NS_PER_MS = 1e6;
const ns = (ms: number) => Math.round(ms * NS_PER_MS); // a Go time.Duration
const pos = (x: number | undefined, d: number) => (x !== undefined && x > 0 ? x : d);

/** withDefaults is Policy.WithDefaults. */
export function withDefaults(p: Policy): FullPolicy {
  const urgentMs = pos(p.urgentMs, DEFAULT_URGENT_MS);
  const h = p.handoverMs ?? 0;
  return {
    p2p: p.p2p ?? false,
    urgentMs,
    handoverMs: h > 0 && h <= urgentMs ? h : Math.trunc(ns(urgentMs) / 2) / NS_PER_MS,
    fallbackWindowMs: pos(p.fallbackWindowMs, DEFAULT_FALLBACK_WINDOW_MS),
    maxOutstanding: pos(p.maxOutstanding, DEFAULT_MAX_OUTSTANDING),
    queueTargetMs: pos(p.queueTargetMs, DEFAULT_QUEUE_TARGET_MS),
    timeoutFactor: pos(p.timeoutFactor, DEFAULT_TIMEOUT_FACTOR),
    minTimeoutMs: pos(p.minTimeoutMs, DEFAULT_MIN_TIMEOUT_MS),
    defaultThroughput: pos(p.defaultThroughput, DEFAULT_THROUGHPUT),
    stripe: p.stripe ?? { index: 0, count: 0 },
    seedMarginMs: pos(p.seedMarginMs, DEFAULT_SEED_MARGIN_MS),
    noUpload: p.noUpload ?? false,
  };
}

/** pieces is Segment.Pieces: the number of pieces (the last one may be short). */
export function pieces(s: Segment): number {
  const ps = pieceSize(s);
  return s.size <= 0 ? 0 : Math.floor((s.size + ps - 1) / ps);
}

function pieceSize(s: Segment): number {
  return s.pieceSize !== undefined && s.pieceSize > 0 ? s.pieceSize : DEFAULT_PIECE_SIZE;
}

function pieceLen(s: Segment, i: number): number {
  const ps = pieceSize(s);
  const off = i * ps;
  const end = Math.min((i + 1) * ps, s.size);
  return end < off ? 0 : end - off;
}

/**
 * stripeOf is scheduler.StripeOf: the stripe (0..count-1) piece i of a segment of n
 * pieces belongs to. Like Go, block + seq wraps at 2^64.
 */
export function stripeOf(seq: bigint, i: number, n: number, count: number): number {
  if (count <= 1 || n <= 0) return 0;
  const block = Math.floor((i * count) / n);
  return Number(BigInt.asUintN(64, BigInt(block) + seq) % BigInt(count));
}

const u64 = (x: bigint) => BigInt.asUintN(64, x);

/** mix is splitmix64's finaliser. */
function mix(x: bigint): bigint {
  x ^= x >> 30n;
  x = u64(x * 0xbf58476d1ce4e5b9n);
  x ^= x >> 27n;
  x = u64(x * 0x94d049bb133111ebn);
  return x ^ (x >> 31n);
}

const utf8 = new TextEncoder();

/** idHash is FNV-1a 64 of the id's UTF-8, mixed. */
export function idHash(id: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of utf8.encode(id)) h = u64((h ^ BigInt(b)) * 0x100000001b3n);
  return mix(h);
}

/** pieceHash orders equal pieces differently on every peer and staggers fallbacks. */
function pieceHash(self: bigint, seq: bigint, piece: number): bigint {
  return mix(self ^ mix(u64(seq * 0x9e3779b97f4a7c15n) ^ u64(BigInt(piece))));
}

/** unit maps a hash to [0, 1) as Go does: float64(h>>11) / 2^53. */
function unit(h: bigint): number {
  return Number(h >> 11n) / 2 ** 53;
}

/** seconds is time.Duration.Seconds of d nanoseconds. */
function seconds(d: number): number {
  const sec = Math.trunc(d / 1e9);
  return sec + (d - sec * 1e9) / 1e9;
}

interface NbState {
  n: Neighbour;
  rttNs: number;
  tput: number;
  outstanding: number;
  limit: number;
  timeoutMs: number;
}

interface Cand {
  seg: Segment;
  piece: number;
  avail: number;
  tie: bigint;
}

const cmp = <T extends number | bigint>(a: T, b: T) => (a < b ? -1 : a > b ? 1 : 0);

/** schedule is scheduler.Schedule: what to fetch, from where, and what to cancel. */
export function schedule(st: State): Plan {
  const pol = withDefaults(st.policy);
  const now = st.now;
  const self = idHash(st.self);
  const plan: Plan = { edge: [], requests: [], cancels: [] };
  const wake = (t: number) => {
    if (Number.isFinite(t) && t > now && (plan.wake === undefined || t < plan.wake)) plan.wake = t;
  };

  const segs = new Map<bigint, Segment>();
  for (const s of st.segments) if (!segs.has(s.seq)) segs.set(s.seq, s);
  const order = [...segs.values()].sort((a, b) => cmp(a.deadline, b.deadline) || cmp(a.seq, b.seq));
  const urgentAt = (s: Segment) => s.deadline - pol.urgentMs;

  const nbs = new Map<string, NbState>();
  for (const n of st.neighbours) {
    if (nbs.has(n.id) || n.id === EDGE || n.noUpload) continue;
    const tput = n.throughput !== undefined && n.throughput > 0 ? n.throughput : pol.defaultThroughput;
    nbs.set(n.id, { n, rttNs: ns(n.rttMs ?? 0), tput, outstanding: 0, limit: 0, timeoutMs: 0 });
  }
  const nbList = [...nbs.values()];
  for (const pd of st.inFlight) {
    const x = nbs.get(pd.from);
    if (x) x.outstanding++;
  }
  const timeoutMs = (x: NbState) => {
    const ahead = (x.outstanding * DEFAULT_PIECE_SIZE) / x.tput; // seconds
    const exp = x.rttNs + Math.trunc(ahead * 1e9);
    return Math.max(ns(pol.minTimeoutMs), Math.trunc(pol.timeoutFactor * exp)) / NS_PER_MS;
  };
  for (const x of nbList) {
    x.timeoutMs = timeoutMs(x);
    const bytes = x.tput * seconds(x.rttNs + ns(pol.queueTargetMs));
    x.limit = Math.min(pol.maxOutstanding, Math.max(2, Math.ceil(bytes / DEFAULT_PIECE_SIZE)));
  }
  const handoverAt = (s: Segment) => s.deadline - pol.handoverMs;

  // In-flight requests: keep what is still useful, cancel the rest. Edge requests go
  // first so that a neighbour request duplicating one is the loser; within a source the
  // oldest is kept. (Array.prototype.sort is stable, as Go's SortStableFunc.)
  const inflight = [...st.inFlight].sort((a, b) => {
    const ae = a.from === EDGE;
    if (ae !== (b.from === EDGE)) return ae ? -1 : 1;
    return cmp(a.since, b.since);
  });
  const key = (seq: bigint, piece: number) => `${seq}/${piece}`;
  const covered = new Set<string>();
  const avoid = new Map<string, string>();
  for (const pd of inflight) {
    const k = key(pd.seq, pd.piece);
    const s = segs.get(pd.seq);
    const x = nbs.get(pd.from);
    const cancel = () => {
      plan.cancels.push(pd);
      if (x) x.outstanding--;
    };
    if (!s || pd.piece < 0 || pd.piece >= pieces(s) || (s.have?.has(pd.piece) ?? false)) {
      cancel(); // played, expired, bogus or already here
    } else if (pd.from === EDGE) {
      if (covered.has(k)) cancel();
      else covered.add(k); // the edge is the safety net: never second-guessed
    } else if (!x || !pol.p2p) {
      cancel();
    } else if (covered.has(k)) {
      cancel(); // duplicate of an edge or older request
    } else if (now >= handoverAt(s)) {
      cancel(); // P2P must never cause a stall: the edge takes over
      avoid.set(k, pd.from);
    } else if (now - pd.since >= x.timeoutMs) {
      cancel(); // re-issued below, elsewhere
      avoid.set(k, pd.from);
    } else {
      covered.add(k);
      wake(pd.since + x.timeoutMs);
      wake(handoverAt(s));
    }
  }

  // Missing pieces: edge now, a neighbour now, or wait.
  const cands: Cand[] = [];
  const edge = new Map<string, number[]>();
  const toEdge = (seq: bigint, why: Reason, i: number) => {
    const k = `${seq}/${why}`;
    const l = edge.get(k);
    if (l) l.push(i);
    else edge.set(k, [i]);
  };
  const stripe = pol.stripe;
  const seeding = pol.p2p && !pol.noUpload && stripe.count > 0 && stripe.index >= 0 && stripe.index < stripe.count;
  for (const s of order) {
    const n = pieces(s);
    const ua = urgentAt(s);
    const urgent = now >= ua;
    // Seeding applies while the stripe still has time to spread.
    const seedable = seeding && now < ua - pol.seedMarginMs;
    for (let i = 0; i < n; i++) {
      const k = key(s.seq, i);
      if ((s.have?.has(i) ?? false) || covered.has(k)) continue;
      if (!pol.p2p) {
        toEdge(s.seq, "p2p_off", i);
        continue;
      }
      if (urgent) {
        toEdge(s.seq, "urgent", i);
        continue;
      }
      wake(ua);
      let avail = 0;
      let held = false;
      let announced = false;
      for (const x of nbList) {
        if (!(x.n.have.get(s.seq)?.has(i) ?? false)) continue;
        announced = true;
        if (avoid.get(k) === x.n.id) continue;
        held = true; // a busy (choking) holder will serve it soon enough
        if (!x.n.choking) avail++;
      }
      // Our stripe comes from the edge at once unless a neighbour announced it: after a
      // reassignment two peers may briefly own one stripe, and the one that learns of
      // the segment later pulls what the other seeded.
      const ours = seeding && !announced && stripeOf(s.seq, i, n, stripe.count) === stripe.index;
      if (ours && seedable) {
        toEdge(s.seq, "seed", i);
        continue;
      }
      if (ours) wake(ua - pol.seedMarginMs);
      if (avail > 0) {
        cands.push({ seg: s, piece: i, avail, tie: pieceHash(self, s.seq, i) });
        continue;
      }
      if (held) continue; // wait for a holder to unchoke; the edge when urgent
      // Nobody near us has it: fall back to the edge at a moment hashed per peer, so that
      // in a swarm one peer goes first and the others get it from that peer instead.
      let ft = ua;
      if (!pol.noUpload) {
        const u = unit(pieceHash(self, s.seq, -1 - Math.floor(i / FALLBACK_BLOCK)));
        ft = ua - Math.trunc((1 - u) * ns(pol.fallbackWindowMs)) / NS_PER_MS;
      }
      if (now < ft) {
        wake(ft);
        continue;
      }
      toEdge(s.seq, "fallback", i);
    }
  }

  // Neighbour requests: deadline first, then rarest first; ties broken by a per-peer hash
  // so that neighbours of one holder ask for different pieces.
  cands.sort((a, b) => cmp(a.seg.deadline, b.seg.deadline) || cmp(a.avail, b.avail) || cmp(a.tie, b.tie));
  const reqs = new Map<string, { from: string; seq: bigint; pieces: number[] }>(); // in first-use order
  const asked = new Set<NbState>();
  for (const c of cands) {
    const k = key(c.seg.seq, c.piece);
    const size = pieceLen(c.seg, c.piece);
    let best: NbState | undefined;
    let bestT = 0;
    for (const x of nbList) {
      if (x.n.choking || x.outstanding >= x.limit || avoid.get(k) === x.n.id || !(x.n.have.get(c.seg.seq)?.has(c.piece) ?? false)) continue;
      const t = seconds(x.rttNs) + ((x.outstanding + 1) * size) / x.tput;
      if (!best || t < bestT) {
        best = x;
        bestT = t;
      }
    }
    if (!best) continue; // all holders busy: retry on the next event
    best.outstanding++;
    asked.add(best);
    const rk = `${best.n.id}\n${c.seg.seq}`;
    const r = reqs.get(rk);
    if (r) r.pieces.push(c.piece);
    else reqs.set(rk, { from: best.n.id, seq: c.seg.seq, pieces: [c.piece] });
  }
  // The requests made now time out as the next plan will see them.
  for (const x of asked) wake(now + timeoutMs(x));

  for (const s of order) {
    for (const why of EDGE_REASONS) appendRuns(plan.edge, EDGE, s.seq, why, edge.get(`${s.seq}/${why}`));
  }
  for (const r of reqs.values()) appendRuns(plan.requests, r.from, r.seq, "none", r.pieces);
  return plan;
}

/** appendRuns sorts pieces and appends them as contiguous runs. */
function appendRuns(runs: Run[], from: string, seq: bigint, why: Reason, ps: number[] | undefined): void {
  if (!ps || ps.length === 0) return;
  ps.sort((a, b) => a - b);
  let r: Run = { from, seq, first: ps[0], count: 1, why };
  for (const p of ps.slice(1)) {
    if (p === r.first + r.count) {
      r.count++;
      continue;
    }
    runs.push(r);
    r = { from, seq, first: p, count: 1, why };
  }
  runs.push(r);
}
