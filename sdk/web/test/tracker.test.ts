import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TrackerClient, TrackerError } from "../src/tracker.js";
import { shoalBin, startShoal, type Server } from "./server.js";

const skip = shoalBin ? false : "SHOAL_BIN not set (scripts/sdk-test.sh builds it)";
let srv: Server;

before(async () => {
  if (!skip) srv = await startShoal();
});
after(async () => {
  await srv?.stop();
});

function client(extra: Partial<ConstructorParameters<typeof TrackerClient>[0]> = {}) {
  return new TrackerClient({ url: srv.ws, stream: "demo", rendition: "index", uploadCapacity: 8e6, ...extra });
}

function next<T>(c: TrackerClient, ev: "neighbours" | "signal" | "error" | "close" | "policy"): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${ev} event`)), 5000);
    const off = c.on(ev, (e) => {
      clearTimeout(t);
      off();
      resolve(e as T);
    });
  });
}

test("join, neighbours, signal relay, stats, report, leave against the Go tracker", { skip, timeout: 20000 }, async () => {
  const a = client();
  const wa = await a.join();
  assert.match(wa.peer_id, /^[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(wa.neighbours, []);
  assert.equal(wa.policy.p2p_enabled, true);

  const aNeighbours = next<{ add: { peer_id: string; initiator: boolean }[] }>(a, "neighbours");
  const b = client();
  const wb = await b.join();
  assert.deepEqual(wb.neighbours, [{ peer_id: wa.peer_id, initiator: true }], "the newcomer offers");
  const added = await aNeighbours;
  assert.deepEqual(added.add, [{ peer_id: wb.peer_id, initiator: false }]);

  // Signalling is relayed unchanged, with "from" set by the tracker.
  const got = next<{ from: string; data: unknown }>(a, "signal");
  const cand = { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 };
  assert.ok(b.signal(wa.peer_id, { type: "candidate", candidate: cand }));
  assert.deepEqual(await got, { from: wb.peer_id, data: { type: "candidate", candidate: cand } });

  // A signal to a stranger is refused with an error event; the connection stays.
  const err = next<{ code: string }>(b, "error");
  b.signal("AAAAAAAAAAAAAAAAAAAAAA", { type: "offer", sdp: "v=0" });
  assert.equal((await err).code, "not_neighbour");

  assert.ok(a.stats({ bytesCdn: 1000, bytesP2P: 3000, bytesUp: 500, stalls: 0, playhead: 12.5, peers: 1 }));
  // Stats reach the swarm totals (the tracker applies them asynchronously).
  let swarm: { bytes_cdn: number; bytes_p2p: number; peers: number } | undefined;
  for (let i = 0; i < 50 && !(swarm && swarm.bytes_p2p === 3000); i++) {
    await new Promise((r) => setTimeout(r, 50));
    swarm = ((await (await fetch(srv.url + "/api/streams?stream=demo")).json()) as (typeof swarm)[])[0];
  }
  assert.equal(swarm?.bytes_cdn, 1000);
  assert.equal(swarm?.bytes_p2p, 3000);
  assert.equal(swarm?.peers, 2);

  // Reporting a real neighbour succeeds silently; reporting oneself is a bad_message.
  assert.ok(b.report(wa.peer_id, "mabc12-41", 3));
  const selfErr = next<{ code: string }>(b, "error");
  b.report(wb.peer_id, "mabc12-41", 3);
  assert.equal((await selfErr).code, "bad_message");

  const removed = next<{ remove: string[] }>(a, "neighbours");
  const closed = next<{ code: number }>(b, "close");
  b.leave();
  assert.equal((await closed).code, 1000);
  assert.deepEqual((await removed).remove, [wb.peer_id]);
  a.close();
  await next(a, "close");
});

test("a join refused by the tracker rejects with its error code", { skip, timeout: 10000 }, async () => {
  const c = client({ stream: "bad/name" });
  await assert.rejects(c.join(), (e: unknown) => e instanceof TrackerError && e.code !== "timeout");
  const d = new TrackerClient({ url: "ws://127.0.0.1:1/tracker", stream: "demo", rendition: "index" });
  await assert.rejects(d.join(), (e: unknown) => e instanceof TrackerError && e.code === "connect");
});
