// The peer-wide upload line: a port of the Go engine's (internal/engine/upload.go),
// checked against the same golden vectors (testdata/upload/vectors.json,
// docs/upload-vectors.md). Pure: no I/O, times in milliseconds from the caller.

import { MAX_OUTSTANDING, PIECE_SIZE, type SegmentId } from "./wire.js";

/** BUSY_BACKLOG_MS of upload at the cap is all the line queues across links (docs/wire.md "Requesting"). */
export const BUSY_BACKLOG_MS = 200;
/** MAX_QUEUED_PIECES per link. */
export const MAX_QUEUED_PIECES = MAX_OUTSTANDING;

/** One piece to send; seeded: of the stripe we seed (docs/tracker.md "Seeding"). */
export interface UploadJob {
  seg: SegmentId;
  index: number;
  size: number;
  seeded: boolean;
}

interface LinkState {
  queue: UploadJob[]; // in key order, stable
  ticket: number; // 0: no turn taken yet
  inWriter: boolean; // the link's writer holds one of our pieces
}

function before(a: UploadJob, b: UploadJob): boolean {
  if (a.seg.seq !== b.seg.seq) return a.seg.seq < b.seg.seq;
  return a.seeded && !b.seeded;
}

function sameKey(a: UploadJob, b: UploadJob): boolean {
  return a.seg.seq === b.seg.seq && a.seeded === b.seeded;
}

/**
 * UploadLine paces piece bytes to the upload cap with one token bucket and hands them out
 * oldest segment first across all links (within a segment our stripe first; ties: the link
 * whose turn has waited longest). Each link has at most one piece in its writer (written()
 * gives it the next turn). A short backlog (BUSY_BACKLOG_MS at the cap) turns requesters
 * away at once, so they ask another holder; a full backlog still takes a piece of an older
 * segment by withdrawing the freshest queued piece (not of our stripe): live only.
 * Rate 0 means no cap and no pacing.
 */
export class UploadLine<L> {
  private rate = 0; // bytes/s
  private tokens = 0;
  private last: number | undefined;
  private queued = 0; // bytes waiting in all queues (not yet in a writer)
  private tickets = 0;
  private readonly links = new Map<L, LinkState>(); // arrival order: the tie order
  /** When the head can go, if it waits for tokens (ms); undefined: nothing waits. */
  wakeMs: number | undefined;

  setRate(bitsPerSec: number): void {
    this.rate = Math.max(bitsPerSec, 0) / 8;
    this.tokens = Math.min(this.tokens, this.burst());
  }

  /** add registers a link; links added earlier win ties. */
  add(link: L): void {
    if (!this.links.has(link)) this.links.set(link, { queue: [], ticket: 0, inWriter: false });
  }

  /** remove forgets a link and what it had queued. */
  remove(link: L): void {
    this.cancel(link);
    this.links.delete(link);
  }

  private burst(): number {
    return Math.max(PIECE_SIZE, this.rate / 20);
  }

  /**
   * enqueue queues on link the longest prefix of jobs that fits and returns its length (the
   * caller answers REJECT over_cap for the rest) and the queued pieces withdrawn to make
   * room (each: REJECT over_cap to its requester). displace false: on demand, where a lower
   * seq is not due sooner.
   */
  enqueue(link: L, jobs: UploadJob[], displace: boolean): { accepted: number; withdrawn: [L, UploadJob][] } {
    const st = this.state(link);
    const limit = this.rate > 0 ? (this.rate * BUSY_BACKLOG_MS) / 1000 : -1;
    const withdrawn: [L, UploadJob][] = [];
    let n = 0;
    let bytes = 0;
    for (const j of jobs) {
      if (st.queue.length >= MAX_QUEUED_PIECES) break;
      const over = () => limit >= 0 && this.queued + bytes + j.size > limit && this.queued + bytes > 0;
      while (over() && displace) {
        const v = this.displace(j);
        if (!v) break;
        withdrawn.push(v);
      }
      if (over()) break;
      bytes += j.size;
      n++;
      this.insert(st, j);
    }
    this.queued += bytes;
    return { accepted: n, withdrawn };
  }

  private displace(j: UploadJob): [L, UploadJob] | undefined {
    let victim: [L, LinkState] | undefined;
    for (const [l, o] of this.links) {
      const last = o.queue[o.queue.length - 1];
      if (!last || last.seg.seq <= j.seg.seq || last.seeded) continue;
      const vl = victim && victim[1].queue[victim[1].queue.length - 1];
      if (!vl || before(vl, last)) victim = [l, o];
    }
    if (!victim) return undefined;
    const o = victim[1];
    const v = o.queue.pop()!;
    if (o.queue.length === 0) o.ticket = 0;
    this.queued -= v.size;
    return [victim[0], v];
  }

  private insert(st: LinkState, j: UploadJob): void {
    let at = st.queue.length;
    while (at > 0 && before(j, st.queue[at - 1])) at--;
    st.queue.splice(at, 0, j);
  }

  private state(link: L): LinkState {
    this.add(link);
    return this.links.get(link)!;
  }

  /** queuedFor reports whether piece index of seq waits in link's queue. */
  queuedFor(link: L, seq: bigint, index: number): boolean {
    return this.links.get(link)?.queue.some((j) => j.index === index && j.seg.seq === seq) ?? false;
  }

  /** cancel drops link's queued pieces [first, first+count) of seg (all of them without seg) and returns them. */
  cancel(link: L, seg?: SegmentId, first = 0, count = 0): UploadJob[] {
    const st = this.links.get(link);
    if (!st) return [];
    const dropped: UploadJob[] = [];
    st.queue = st.queue.filter((j) => {
      const drop = !seg || (j.seg.epoch === seg.epoch && j.seg.seq === seg.seq && j.index >= first && j.index < first + count);
      if (drop) {
        this.queued -= j.size;
        dropped.push(j);
      }
      return !drop;
    });
    if (st.queue.length === 0) st.ticket = 0;
    return dropped;
  }

  /** written tells the line that link's writer took the piece it held: the link may have its next turn. */
  written(link: L): void {
    const st = this.links.get(link);
    if (st) st.inWriter = false;
  }

  /** release hands out, in order, the pieces whose turn has come at nowMs; wakeMs is then when the next one's tokens are there. */
  release(nowMs: number): [L, UploadJob][] {
    this.wakeMs = undefined;
    const out: [L, UploadJob][] = [];
    while (this.queued > 0) {
      let best: LinkState | undefined;
      let bestLink: L | undefined;
      for (const [l, st] of this.links) {
        if (st.queue.length === 0 || st.inWriter) continue;
        if (st.ticket === 0) st.ticket = ++this.tickets;
        const k = st.queue[0];
        const bk = best?.queue[0];
        if (!best || !bk || before(k, bk) || (sameKey(k, bk) && st.ticket < best.ticket)) {
          best = st;
          bestLink = l;
        }
      }
      if (!best) break;
      const size = best.queue[0].size;
      if (this.rate > 0) {
        if (this.last !== undefined) this.tokens = Math.min(this.burst(), this.tokens + ((nowMs - this.last) / 1000) * this.rate);
        this.last = nowMs;
        if (this.tokens < size && this.tokens < this.burst()) {
          // Rounded up to the nanosecond, and one more, as the Go line does.
          this.wakeMs = nowMs + (Math.ceil(((size - this.tokens) / this.rate) * 1e9) + 1) / 1e6;
          break;
        }
        this.tokens -= size; // may go negative for a piece above the burst: repaid by waiting
      }
      const j = best.queue.shift()!;
      this.queued -= j.size;
      best.ticket = 0;
      best.inWriter = true;
      out.push([bestLink as L, j]);
    }
    return out;
  }
}
