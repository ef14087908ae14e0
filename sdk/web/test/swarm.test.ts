import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { webcrypto, createHash } from "node:crypto";
import { Swarm, runs } from "../src/swarm.js";
import { stripeOf } from "../src/scheduler.js";
import { importPublicKey } from "../src/record.js";
import { parseSegmentUrl } from "../src/index.js";
import { readRepo } from "./util.js";
import { shoalBin, startShoal, type Server } from "./server.js";

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const skip = shoalBin ? false : "SHOAL_BIN not set (scripts/sdk-test.sh builds it)";
let srv: Server;
before(async () => {
  if (!skip) srv = await startShoal();
});
after(async () => {
  await srv?.stop();
});

test("stripeOf matches scheduler.StripeOf", () => {
  // StripeOf(seq, i, n, count): block = i*count/n, stripe = (block+seq) mod count.
  assert.deepEqual([0, 1, 2].map((i) => stripeOf(41n, i, 3, 2)), [1, 1, 0]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((i) => stripeOf(0n, i, 7, 3)), [0, 0, 0, 1, 1, 2, 2]);
  assert.equal(stripeOf(18446744073709551615n, 0, 10, 4), Number(18446744073709551615n % 4n));
  assert.equal(stripeOf(5n, 3, 10, 1), 0);
  assert.equal(stripeOf(5n, 3, 10, 0), 0);
});

test("runs coalesces piece indices", () => {
  assert.deepEqual(runs([0, 1, 2, 5, 7, 8]), [
    [0, 3],
    [5, 1],
    [7, 2],
  ]);
  assert.deepEqual(runs([]), []);
});

test("parseSegmentUrl", () => {
  assert.deepEqual(parseSegmentUrl("https://e.example/live/demo/index/mabc12-41.ts?token=x"), {
    stream: "demo",
    rendition: "index",
    id: { epoch: "mabc12", seq: 41n },
    origin: "https://e.example",
  });
  assert.equal(parseSegmentUrl("https://e.example/live/demo/index/mabc12-41.rec"), undefined);
  assert.equal(parseSegmentUrl("https://e.example/live/demo/index/MABC-41.ts"), undefined);
  assert.equal(parseSegmentUrl("https://e.example/live/demo/index/m-18446744073709551616.ts"), undefined);
  assert.equal(parseSegmentUrl("https://e.example/vod/x.ts"), undefined);
});

async function playlist(): Promise<{ id: { epoch: string; seq: bigint }; url: string }[]> {
  const text = await (await fetch(srv.url + "/live/demo/index.m3u8")).text();
  const base = srv.url + "/live/demo/index.m3u8";
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const url = new URL(l, base).toString();
      return { id: parseSegmentUrl(url)!.id, url };
    });
}

test("a lone peer gets every segment from the edge by Range, verified, byte for byte", { skip, timeout: 20000 }, async (t) => {
  const key = await importPublicKey(srv.key, subtle);
  const swarm = new Swarm({ trackerUrl: srv.ws, stream: "demo", rendition: "index", uploadCap: 8e6, subtle, key });
  t.after(() => swarm.destroy());
  await swarm.start();
  assert.match(swarm.selfId, /^[A-Za-z0-9_-]{22}$/);
  const segs = await playlist();
  swarm.notePlaylist(segs);
  const last = segs[segs.length - 1];
  const got = await swarm.load(last.id, last.url, performance.now());
  const want = new Uint8Array(await (await fetch(last.url)).arrayBuffer());
  assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(want).digest("hex"));
  assert.equal(swarm.stats.bytesCdn, want.length, "exactly one copy from the edge");
  assert.equal(swarm.stats.bytesP2P, 0);
  // hls.js may transfer the buffer it gets: the swarm's own copy must survive that.
  structuredClone(got.buffer, { transfer: [got.buffer as ArrayBuffer] });
  assert.ok(swarm.pieceFor(last.id, 0) instanceof Uint8Array);
  swarm.destroy();
});

test("a record that does not verify under the key is never used", { skip, timeout: 20000 }, async (t) => {
  const other = await importPublicKey(readRepo("testdata", "integrity", "other.key").toString(), subtle);
  const swarm = new Swarm({ trackerUrl: srv.ws, stream: "demo", rendition: "index", uploadCap: 0, subtle, key: other });
  t.after(() => swarm.destroy());
  const segs = await playlist();
  const last = segs[segs.length - 1];
  await assert.rejects(swarm.load(last.id, last.url, performance.now()), /no verified record/);
  assert.equal(swarm.stats.bytesCdn, 0, "no media fetched without a record");
  swarm.destroy();
});

test("a tracker that refuses the connection is skipped for the next one, and a lost session rejoins", { skip, timeout: 20000 }, async (t) => {
  const key = await importPublicKey(srv.key, subtle);
  const swarm = new Swarm({
    trackerUrl: "ws://127.0.0.1:1/tracker", // nothing listens there
    trackerUrls: [srv.ws],
    stream: "demo",
    rendition: "index",
    uploadCap: 8e6,
    subtle,
    key,
  });
  t.after(() => swarm.destroy());
  const connected = () =>
    new Promise<void>((resolve) => {
      const on = (e: { connected: boolean }) => {
        if (e.connected) {
          swarm.off("tracker", on);
          resolve();
        }
      };
      swarm.on("tracker", on);
    });
  const first = connected();
  await swarm.start();
  await first;
  const id = swarm.selfId;
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  // The session ends (as when its tracker node dies): the swarm joins again, on the
  // next tracker in turn, with a new id.
  const again = connected();
  swarm.tracker.close();
  await again;
  assert.notEqual(swarm.selfId, id);
  assert.match(swarm.selfId, /^[A-Za-z0-9_-]{22}$/);
});
