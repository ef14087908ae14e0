// On-demand titles in the browser (docs/vod.md "Playback"): hls.js plays a title (a
// playlist with #EXT-X-ENDLIST) from where the viewer is, buffers ahead (its
// maxBufferLength) and seeks; the swarm serves what hls.js asks for, as for live, with
// the Go engine's title rules (internal/engine/vod.go): no seeding, a 3 s staggered edge
// fallback, and what was watched kept for neighbours within a byte budget, the segments
// furthest from the playhead dropped (and withdrawn) first.
import type { Policy } from "./scheduler.js";

/** Segment bytes a browser keeps of a title for its neighbours (a shoal peer: 256 MiB). */
export const DEFAULT_VOD_KEEP_BYTES = 48 << 20;

/** The staggered edge fallback on a title, ms (engine.vodFallbackWindow). */
export const VOD_FALLBACK_MS = 3000;

/** vodPolicy is the scheduler policy on a title: no stripe, the wider fallback. */
export function vodPolicy(p: Policy): Policy {
  return { ...p, stripe: { index: 0, count: 0 }, fallbackWindowMs: p.fallbackWindowMs ?? VOD_FALLBACK_MS };
}

/** A segment the swarm holds bytes of. */
export interface Held {
  name: string;
  seq: bigint;
  bytes: number;
  /** hls.js waits for it: never dropped. */
  busy: boolean;
}

/**
 * vodEvictions names the segments to drop so that what is held fits keepBytes: the
 * furthest from the playhead's segment first (ties: the lower seq), never a busy one.
 */
export function vodEvictions(held: Held[], playSeq: bigint, keepBytes: number): string[] {
  let total = held.reduce((n, h) => n + h.bytes, 0);
  if (total <= keepBytes) return [];
  const dist = (h: Held) => (h.seq > playSeq ? h.seq - playSeq : playSeq - h.seq);
  const order = held
    .filter((h) => !h.busy && h.bytes > 0)
    .sort((a, b) => {
      const da = dist(a), db = dist(b);
      if (da !== db) return da > db ? -1 : 1;
      return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
    });
  const out: string[] = [];
  for (const h of order) {
    if (total <= keepBytes) break;
    total -= h.bytes;
    out.push(h.name);
  }
  return out;
}
