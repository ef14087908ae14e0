import assert from "node:assert/strict";
import { test } from "node:test";

import { schedule } from "../src/scheduler.js";
import { DEFAULT_VOD_KEEP_BYTES, VOD_FALLBACK_MS, vodEvictions, vodPolicy, type Held } from "../src/vod.js";

const seg = (seq: number, bytes: number, busy = false): Held => ({ name: `e-${seq}`, seq: BigInt(seq), bytes, busy });

test("vodEvictions: nothing within the budget", () => {
  assert.deepEqual(vodEvictions([seg(1, 100), seg(2, 100)], 2n, 200), []);
});

test("vodEvictions: the furthest from the playhead first, behind or ahead, never a busy one", () => {
  const held = [seg(0, 100), seg(1, 100), seg(5, 100), seg(9, 100, true), seg(10, 100), seg(12, 100)];
  // Playhead at 6: distances 6, 5, 1, 3 (busy), 4, 6. Keep 300 of 600: drop 0 (6, lower seq), 12 (6), 1 (5).
  assert.deepEqual(vodEvictions(held, 6n, 300), ["e-0", "e-12", "e-1"]);
  // Busy segments stay even when the budget cannot be met.
  assert.deepEqual(vodEvictions([seg(1, 500, true), seg(2, 100)], 1n, 100), ["e-2"]);
});

test("vodPolicy: a title seeds nothing and falls back over 3 s", () => {
  const p = vodPolicy({ p2p: true, stripe: { index: 1, count: 4 }, noUpload: false });
  assert.deepEqual(p.stripe, { index: 0, count: 0 });
  assert.equal(p.fallbackWindowMs, VOD_FALLBACK_MS);
  assert.equal(vodPolicy({ fallbackWindowMs: 700 }).fallbackWindowMs, 700);
  assert.ok(DEFAULT_VOD_KEEP_BYTES < 256 << 20, "the browser keeps less than a shoal peer");
  // Our stripe of a segment due in 20 s, held by no neighbour: seeded on live, not on a title.
  const st = {
    now: 0,
    self: "a",
    segments: [{ seq: 7n, size: 8 * 16384, deadline: 20000 }],
    neighbours: [],
    inFlight: [],
  };
  const live = schedule({ ...st, policy: { p2p: true, stripe: { index: 0, count: 1 } } });
  assert.ok(live.edge.some((r) => r.why === "seed"), "live seeds its stripe");
  const title = schedule({ ...st, policy: vodPolicy({ p2p: true, stripe: { index: 0, count: 1 } }) });
  assert.equal(title.edge.length, 0, "a title fetches nothing 20 s ahead that no neighbour holds");
  // Its hashed fallback moment lies within the 3 s before the urgent window (1.5 s): the plan wakes then.
  const wake = title.wake ?? -1;
  assert.ok(wake >= 20000 - 1500 - VOD_FALLBACK_MS && wake <= 20000 - 1500, `wake ${title.wake}`);
});
