import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { decodeClient, decodeServer, encode, TrackerMessageError } from "../src/tracker-message.js";
import { readRepo, repo } from "./util.js";

const dir = join(repo, "testdata", "tracker");
const golden = readdirSync(dir).filter((f) => f.endsWith(".json"));
const invalid = readdirSync(join(dir, "invalid"));

test("golden tracker files exist", () => {
  assert.ok(golden.length >= 10 && invalid.length >= 5);
});

for (const f of golden) {
  test(`golden ${f}: decodes with its direction's decoder and re-encodes byte for byte`, () => {
    const raw = readRepo("testdata", "tracker", f).toString().replace(/\n$/, "");
    const [dirName, rest] = [f.slice(0, f.indexOf("-")), f.slice(f.indexOf("-") + 1, -".json".length)];
    const m = dirName === "client" ? decodeClient(raw) : decodeServer(raw);
    assert.equal(m.type, rest.split("-")[0]);
    assert.equal(encode(m), raw);
  });
}

for (const f of invalid) {
  test(`invalid ${f}: refused`, () => {
    const raw = readRepo("testdata", "tracker", "invalid", f).toString();
    assert.throws(() => decodeClient(raw), TrackerMessageError);
  });
}

test("encode escapes like Go and omits empty optional fields", () => {
  assert.equal(encode({ type: "error", code: "x", message: "<a&b>\u2028\"\n" }), '{"type":"error","code":"x","message":"\\u003ca\\u0026b\\u003e\\u2028\\"\\n"}');
  assert.equal(encode({ type: "stats", bytes_cdn: 1, bytes_p2p: 2, bytes_up: 3, stalls: 0, playhead: 0, peers: 0 }), '{"type":"stats","bytes_cdn":1,"bytes_p2p":2,"bytes_up":3,"stalls":0}');
  assert.equal(encode({ type: "welcome", peer_id: "a", policy: { p2p_enabled: true, max_upload: 0, neighbours: 10 }, neighbours: [], stripe: { index: 1, count: 3 } }), '{"type":"welcome","peer_id":"a","policy":{"p2p_enabled":true,"max_upload":0,"neighbours":10},"neighbours":[],"stripe":{"index":1,"count":3}}');
  assert.equal(encode({ type: "leave" }), '{"type":"leave"}');
});

test("server messages: stripe, unknown types and bad fields", () => {
  assert.deepEqual(decodeServer('{"type":"stripe","index":2,"count":4}'), { type: "stripe", index: 2, count: 4 });
  assert.throws(() => decodeServer('{"type":"stripe","index":4,"count":4}'), TrackerMessageError);
  assert.throws(() => decodeServer('{"type":"welcome","peer_id":"a","neighbours":[],"stripe":{"index":1,"count":0}}'), TrackerMessageError);
  assert.throws(
    () => decodeServer('{"type":"teleport"}'),
    (e: unknown) => e instanceof TrackerMessageError && e.unknownType,
  );
  assert.throws(() => decodeServer('{"type":"signal","data":{"type":"offer","sdp":"v=0"}}'), TrackerMessageError, "no from");
  assert.throws(() => decodeServer('{"type":"neighbours","remove":["a b"]}'), TrackerMessageError);
  // null neighbours in a welcome reads as [] (Go: nil slice), unknown members are ignored.
  assert.deepEqual(decodeServer('{"type":"welcome","peer_id":"a","policy":{"p2p_enabled":true,"max_upload":0,"neighbours":3},"neighbours":null,"future":1}'), {
    type: "welcome",
    peer_id: "a",
    policy: { p2p_enabled: true, max_upload: 0, neighbours: 3 },
    neighbours: [],
  });
});

test("welcome: trackers and edges to fail over to, bounded and checked", () => {
  const base = '{"type":"welcome","peer_id":"T7mFq2ZkSe-2b0pU9yH1aQ","policy":{"p2p_enabled":true,"max_upload":0,"neighbours":10},"neighbours":[]';
  const w = decodeServer(base + ',"trackers":["wss://b/tracker"],"edges":["https://e2"]}');
  assert.ok(w.type === "welcome");
  assert.deepEqual([w.trackers, w.edges], [["wss://b/tracker"], ["https://e2"]]);
  for (const extra of [',"edges":["ftp://e2"]}', ',"edges":["http://"]}', ',"trackers":["https://b"]}',
    `,"edges":["http://${"x".repeat(512)}"]}`, `,"edges":[${Array(17).fill('"http://e"').join(",")}]}`]) {
    assert.throws(() => decodeServer(base + extra), TrackerMessageError, extra);
  }
});
