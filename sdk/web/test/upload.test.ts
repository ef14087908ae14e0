import { test } from "node:test";
import assert from "node:assert/strict";
import { BUSY_BACKLOG_MS, MAX_QUEUED_PIECES, UploadLine, type UploadJob } from "../src/upload.js";
import { PIECE_SIZE } from "../src/wire.js";
import { readRepo } from "./util.js";

// The JSON form of testdata/upload/vectors.json (docs/upload-vectors.md).
interface VPiece {
  link: string;
  seq: string;
  piece: number;
}
interface VStep {
  at_ms: number;
  op: "request" | "release" | "written" | "cancel" | "drop";
  link?: string;
  seq?: string;
  first?: number;
  count?: number;
  seeded?: number[];
  displace?: boolean;
  accepted?: number;
  withdrawn?: VPiece[];
  sent?: VPiece[];
  wake_ms?: number;
}
const file = JSON.parse(readRepo("testdata", "upload", "vectors.json").toString()) as {
  busy_backlog_ms: number;
  max_queued_pieces: number;
  vectors: { name: string; rate_bps: number; segments: { seq: string; size: number }[]; links: string[]; steps: VStep[] }[];
};

test("upload constants match the Go engine's", () => {
  assert.equal(BUSY_BACKLOG_MS, file.busy_backlog_ms);
  assert.equal(MAX_QUEUED_PIECES, file.max_queued_pieces);
});

const pieces = (xs: [string, UploadJob][]): VPiece[] => xs.map(([link, j]) => ({ link, seq: j.seg.seq.toString(), piece: j.index }));

for (const v of file.vectors) {
  test(`upload vector: ${v.name}`, () => {
    const line = new UploadLine<string>();
    line.setRate(v.rate_bps);
    for (const l of v.links) line.add(l);
    const sizes = new Map(v.segments.map((s) => [s.seq, s.size]));
    for (const [i, st] of v.steps.entries()) {
      const at = `step ${i} (${st.op} at ${st.at_ms} ms)`;
      const link = st.link ?? "";
      const seg = { epoch: "e", seq: BigInt(st.seq ?? "0") };
      switch (st.op) {
        case "request": {
          const size = sizes.get(st.seq!)!;
          const jobs: UploadJob[] = [];
          for (let p = st.first ?? 0; p < (st.first ?? 0) + st.count!; p++) {
            jobs.push({ seg, index: p, size: Math.min(PIECE_SIZE, size - p * PIECE_SIZE), seeded: st.seeded?.includes(p) ?? false });
          }
          const r = line.enqueue(link, jobs, st.displace ?? false);
          assert.equal(r.accepted, st.accepted, `${at}: accepted`);
          assert.deepEqual(pieces(r.withdrawn), st.withdrawn ?? [], `${at}: withdrawn`);
          break;
        }
        case "release": {
          assert.deepEqual(pieces(line.release(st.at_ms)), st.sent ?? [], `${at}: sent`);
          if (st.wake_ms === undefined) assert.equal(line.wakeMs, undefined, `${at}: wake`);
          else assert.ok(line.wakeMs !== undefined && Math.abs(line.wakeMs - st.wake_ms) < 1e-5, `${at}: wake ${line.wakeMs}, want ${st.wake_ms}`);
          break;
        }
        case "written":
          line.written(link);
          break;
        case "cancel":
          line.cancel(link, seg, st.first ?? 0, st.count!);
          break;
        case "drop":
          line.cancel(link);
          break;
      }
    }
  });
}

test("cancel returns the pieces it dropped (the swarm answers them REJECT when consent is withdrawn)", () => {
  const line = new UploadLine<string>();
  line.add("a");
  const seg = { epoch: "e", seq: 5n };
  const job = (index: number): UploadJob => ({ seg, index, size: PIECE_SIZE, seeded: false });
  assert.equal(line.enqueue("a", [job(0), job(1), job(2)], true).accepted, 3);
  assert.deepEqual(line.cancel("a", seg, 1, 1).map((j) => j.index), [1]);
  assert.deepEqual(line.cancel("a").map((j) => j.index), [0, 2]);
  assert.deepEqual(line.release(0), []);
});
