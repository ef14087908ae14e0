import { test } from "node:test";
import assert from "node:assert/strict";
import { schedule, withDefaults, idHash, stripeOf, type FullPolicy, type Pending, type Plan, type Run, type State } from "../src/scheduler.js";
import { readRepo } from "./util.js";

// The JSON form of testdata/scheduler/vectors.json (docs/scheduler-vectors.md).
interface VPolicy {
  p2p: boolean;
  urgent_ms: number;
  handover_ms: number;
  fallback_window_ms: number;
  max_outstanding: number;
  queue_target_ms: number;
  timeout_factor: number;
  min_timeout_ms: number;
  default_throughput: number;
  stripe: { index: number; count: number };
  seed_margin_ms: number;
  no_upload: boolean;
}
interface VPending {
  seq: string;
  piece: number;
  from: string;
  since_ms: number;
}
interface VRun {
  from: string;
  seq: string;
  first: number;
  count: number;
  why: string;
}
interface VState {
  now_ms: number;
  self: string;
  policy: VPolicy;
  segments: { seq: string; size: number; piece_size: number; deadline_ms: number | null; have: number[] }[];
  neighbours: { id: string; have: Record<string, number[]>; throughput: number; rtt_ms: number; choking: boolean; no_upload: boolean }[];
  in_flight: VPending[];
}
interface VPlan {
  edge: VRun[];
  requests: VRun[];
  cancels: VPending[];
  wake_ms: number | null;
}
const file = JSON.parse(readRepo("testdata", "scheduler", "vectors.json").toString()) as {
  defaults: VPolicy;
  vectors: { name: string; state: VState; plan: VPlan }[];
};

function policyOf(p: VPolicy): FullPolicy {
  return {
    p2p: p.p2p,
    urgentMs: p.urgent_ms,
    handoverMs: p.handover_ms,
    fallbackWindowMs: p.fallback_window_ms,
    maxOutstanding: p.max_outstanding,
    queueTargetMs: p.queue_target_ms,
    timeoutFactor: p.timeout_factor,
    minTimeoutMs: p.min_timeout_ms,
    defaultThroughput: p.default_throughput,
    stripe: p.stripe,
    seedMarginMs: p.seed_margin_ms,
    noUpload: p.no_upload,
  };
}

function stateOf(v: VState): State {
  return {
    now: v.now_ms,
    self: v.self,
    policy: policyOf(v.policy),
    segments: v.segments.map((s) => ({
      seq: BigInt(s.seq),
      size: s.size,
      pieceSize: s.piece_size,
      deadline: s.deadline_ms ?? -Infinity, // null: Go's zero time
      have: new Set(s.have),
    })),
    neighbours: v.neighbours.map((n) => ({
      id: n.id,
      have: new Map(Object.entries(n.have).map(([seq, l]) => [BigInt(seq), new Set(l)])),
      throughput: n.throughput,
      rttMs: n.rtt_ms,
      choking: n.choking,
      noUpload: n.no_upload,
    })),
    inFlight: v.in_flight.map((p) => ({ seq: BigInt(p.seq), piece: p.piece, from: p.from, since: p.since_ms })),
  };
}

// Go's times have nanosecond resolution: compare wakes in whole nanoseconds.
const nanos = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : Math.round(ms * 1e6));
const run = (r: Run): VRun => ({ from: r.from, seq: r.seq.toString(), first: r.first, count: r.count, why: r.why });
const pending = (p: Pending): VPending => ({ seq: p.seq.toString(), piece: p.piece, from: p.from, since_ms: p.since });

function planOf(p: Plan): VPlan {
  return { edge: p.edge.map(run), requests: p.requests.map(run), cancels: p.cancels.map(pending), wake_ms: nanos(p.wake) };
}

test("vectors are there", () => {
  assert.ok(file.vectors.length >= 25, `${file.vectors.length} vectors`);
});

test("withDefaults matches Policy.WithDefaults", () => {
  assert.deepEqual(withDefaults({}), policyOf(file.defaults));
  for (const v of file.vectors) assert.deepEqual(withDefaults(policyOf(v.state.policy)), policyOf(v.state.policy), v.name);
  // Handover above Urgent is reset to half of it, in whole nanoseconds as Go's Duration.
  assert.equal(withDefaults({ urgentMs: 1001, handoverMs: 2000 }).handoverMs, 500.5);
  assert.equal(withDefaults({ urgentMs: 1e-6 }).handoverMs, 0);
});

for (const v of file.vectors) {
  test(`scheduler vector ${v.name}`, () => {
    const got = planOf(schedule(stateOf(v.state)));
    // Runs and cancels in Go's order: Schedule's output order is deterministic.
    assert.deepEqual(got, { ...v.plan, wake_ms: nanos(v.plan.wake_ms) });
  });
}

test("hashes and stripes as Go computes them", () => {
  // Values from Go's idHash (FNV-1a 64 of the UTF-8, then splitmix64's finaliser).
  assert.equal(idHash("").toString(16), "f52a15e9a9b5e89b");
  assert.equal(idHash("peer-a").toString(16), "cd72df995a26a248");
  assert.equal(idHash("é✓").toString(16), "7759ab2261021963");
  assert.equal(stripeOf(18446744073709551615n, 1, 3, 3), 0, "block + seq wraps at 2^64 as in Go");
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((i) => stripeOf(0n, i, 7, 3)), [0, 0, 0, 1, 1, 2, 2]);
});
