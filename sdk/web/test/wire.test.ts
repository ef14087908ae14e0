import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode, WireError, bitHas, bitSet, bitfieldLen, type Message } from "../src/wire.js";
import { hex, readRepo, unhex } from "./util.js";

interface Vector {
  name: string;
  hex: string;
  msg?: Record<string, unknown>;
  error?: string;
}
const vectors = JSON.parse(readRepo("testdata", "wire", "vectors.json").toString()) as { valid: Vector[]; invalid: Vector[] };

// toVector renders a decoded message in the vectors' JSON form (snake_case, seq as a
// decimal string, bytes as hex), so a comparison checks every field.
function toVector(m: Message): Record<string, unknown> {
  const v: Record<string, unknown> = { type: m.type };
  for (const [k, val] of Object.entries(m)) {
    if (k === "type") continue;
    const key = k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    v[key] = typeof val === "bigint" ? val.toString() : val instanceof Uint8Array ? hex(val) : val;
  }
  return v;
}

function fromVector(v: Record<string, unknown>): Message {
  const m: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    const key = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    m[key] = k === "seq" ? BigInt(val as string) : k === "bitmap" || k === "data" ? unhex(val as string) : val;
  }
  return m as unknown as Message;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

test("vectors cover every message type and error", () => {
  const types = new Set(vectors.valid.map((v) => v.msg!.type));
  assert.deepEqual([...types].sort(), ["bitfield", "cancel", "choke", "have", "hello", "piece", "ping", "pong", "reject", "request", "subscribe", "unchoke"]);
  const errors = new Set(vectors.invalid.map((v) => v.error));
  assert.deepEqual([...errors].sort(), ["invalid", "short", "too_large", "unknown_type", "version"]);
});

for (const v of vectors.valid) {
  test(`valid vector ${v.name}: decodes to msg, msg encodes to hex`, () => {
    const frame = unhex(v.hex);
    const m = decode(frame);
    assert.deepEqual(sortKeys(toVector(m)), sortKeys(v.msg!));
    assert.equal(hex(encode(m)), v.hex, "re-encode of decoded");
    assert.equal(hex(encode(fromVector(v.msg!))), v.hex, "encode of msg");
  });
}

for (const v of vectors.invalid) {
  test(`invalid vector ${v.name}: ${v.error}`, () => {
    assert.throws(
      () => decode(unhex(v.hex)),
      (e: unknown) => e instanceof WireError && e.code === v.error,
    );
  });
}

test("encode refuses what decode would refuse", () => {
  const seg = { epoch: "mabc12", seq: 41n };
  const bad: [Message, string][] = [
    [{ type: "request", ...seg, first: 0, count: 257 }, "too_large"],
    [{ type: "have", ...seg, first: 16383, count: 2 }, "invalid"],
    [{ type: "have", ...seg, epoch: "ABC", first: 0, count: 1 }, "invalid"],
    [{ type: "piece", ...seg, index: 0, data: new Uint8Array(0) }, "invalid"],
    [{ type: "piece", ...seg, index: 0, data: new Uint8Array(16385) }, "too_large"],
    [{ type: "choke", serial: 0 }, "invalid"],
    [{ type: "hello", maxVersion: 1, stream: "a/b", rendition: "index", peerId: "p", uploadKbps: 0 }, "invalid"],
    [{ type: "bitfield", ...seg, pieces: 3, bitmap: new Uint8Array([0xff]) }, "invalid"],
    [{ type: "have", ...seg, seq: -1n, first: 0, count: 1 }, "invalid"],
  ];
  for (const [m, code] of bad) {
    assert.throws(() => encode(m), (e: unknown) => e instanceof WireError && e.code === code, JSON.stringify(m, (_, x) => (typeof x === "bigint" ? x.toString() : x)));
  }
});

test("bit helpers are MSB first", () => {
  const b = new Uint8Array(bitfieldLen(11));
  for (const i of [0, 1, 7, 8, 10]) bitSet(b, i);
  assert.equal(hex(b), "c1a0");
  assert.ok(bitHas(b, 10) && !bitHas(b, 9) && !bitHas(b, 16) && !bitHas(b, -1));
});
