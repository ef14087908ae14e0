import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import { webcrypto, createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { EdgeFailover, primaryRetryMs } from "../src/edges.js";
import { Swarm } from "../src/swarm.js";
import { importPublicKey } from "../src/record.js";
import { parseSegmentUrl } from "../src/index.js";
import { shoalBin, startShoal, type Server } from "./server.js";

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const skip = shoalBin ? false : "SHOAL_BIN not set (scripts/sdk-test.sh builds it)";

/** edge starts a real HTTP server answering every request with status and its name. */
async function edge(name: string, status: () => number): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const srv: HttpServer = createServer((req, res) => {
    hits++;
    res.writeHead(status(), { "Content-Type": "text/plain" });
    res.end(name);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { url, hits: () => hits, close: () => new Promise((r) => srv.close(() => r())) };
}

test("edge failover: a 5xx or a dead edge moves to the next and retries there; a 404 does not; back to the first after primaryRetryMs", async (t) => {
  let aStatus = 200;
  const a = await edge("a", () => aStatus);
  const b = await edge("b", () => 200);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  let now = 0;
  const f = new EdgeFailover([a.url, b.url], undefined, () => now);
  const get = async (base: string) => (await f.fetch(base + "/live/demo/index/m1-1.ts")).text();
  assert.equal(await get(a.url), "a");
  aStatus = 404;
  assert.equal(await (await f.fetch(a.url + "/live/x")).status, 404, "a 404 is the answer");
  assert.equal(f.switches, 0, "a 404 moves nothing");
  aStatus = 503;
  assert.equal(await get(a.url), "b", "the 503 was retried on the next edge");
  assert.equal(f.switches, 1);
  const aHits = a.hits();
  assert.equal(await get(a.url), "b", "later requests for the first edge's URLs go to the second at once");
  assert.equal(a.hits(), aHits, "the failed edge is not asked again before primaryRetryMs");
  aStatus = 200;
  now += primaryRetryMs + 1;
  assert.equal(await get(b.url), "a", "after primaryRetryMs the first edge is tried again");
  // A dead edge (connection refused) moves too.
  await a.close();
  assert.equal(await get(a.url), "b");
  assert.equal(f.switches, 2);
  // The welcome's edges are added once each, after the configured ones.
  f.add([b.url + "/", "https://edge3.example.net", "not a url"]);
  assert.deepEqual(f.origins, [a.url, b.url, "https://edge3.example.net"]);
});

let srv: Server;
before(async () => {
  if (!skip) srv = await startShoal();
});
after(async () => {
  await srv?.stop();
});

test("a swarm whose first edge answers 503 gets its segment, verified, from the second edge", { skip, timeout: 20000 }, async (t) => {
  const dead = await edge("dead", () => 503);
  t.after(() => dead.close());
  const failover = new EdgeFailover([dead.url, srv.url]);
  const key = await importPublicKey(srv.key, subtle);
  const swarm = new Swarm({ trackerUrl: srv.ws, stream: "demo", rendition: "index", uploadCap: 8e6, subtle, key, fetch: failover.fetch });
  t.after(() => swarm.destroy());
  await swarm.start();
  const text = await (await fetch(srv.url + "/live/demo/index.m3u8")).text();
  const segs = text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      // As a player given the first edge would see them: every URL on the dead edge.
      const url = new URL(l, dead.url + "/live/demo/index.m3u8").toString();
      return { id: parseSegmentUrl(url)!.id, url };
    });
  swarm.notePlaylist(segs);
  const last = segs[segs.length - 1];
  const got = await swarm.load(last.id, last.url, performance.now());
  const want = new Uint8Array(await (await fetch(srv.url + new URL(last.url).pathname)).arrayBuffer());
  assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(want).digest("hex"));
  assert.equal(failover.switches, 1, "one move, on the first 503");
  assert.ok(dead.hits() >= 1 && dead.hits() <= 2, `the dead edge was asked ${dead.hits()} times`);
});
