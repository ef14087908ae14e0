import { test } from "node:test";
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { importPublicKey, parseRecord, pieceLen, RecordError, verifyPiece, verifySegment, type SegmentRecord } from "../src/record.js";
import { hex, readRepo } from "./util.js";

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const dir = ["testdata", "integrity"];
const read = (name: string) => new Uint8Array(readRepo(...dir, name));
const text = (name: string) => readRepo(...dir, name).toString();

interface Meta {
  segment: string;
  record: string;
  stream: string;
  rendition: string;
  epoch: string;
  seq: string;
  uri: string;
  size: number;
  duration_us: number;
  piece_size: number;
  hashes: string[];
}
const metas = JSON.parse(text("records.json")) as Meta[];

function isCode(code: string) {
  return (e: unknown) => e instanceof RecordError && e.code === code;
}

test("public key: the /live/{stream}/key body imports; junk does not", async () => {
  await importPublicKey(text("key"), subtle);
  await assert.rejects(importPublicKey("not base64!", subtle), isCode("key"));
  await assert.rejects(importPublicKey(btoa("short"), subtle), isCode("key"));
});

for (const m of metas) {
  test(`Go record ${m.record}: parses, verifies, and binds every piece`, async () => {
    const key = await importPublicKey(text("key"), subtle);
    const rec: SegmentRecord = await parseRecord(read(m.record), key, subtle);
    assert.deepEqual(
      { ...rec, seq: rec.seq.toString(), hashes: undefined },
      { stream: m.stream, rendition: m.rendition, epoch: m.epoch, seq: m.seq, uri: m.uri, size: m.size, durationUs: m.duration_us, pieceSize: m.piece_size, count: m.hashes.length, hashes: undefined },
    );
    assert.deepEqual(m.hashes, Array.from({ length: rec.count }, (_, i) => hex(rec.hashes.subarray(i * 32, i * 32 + 32))));

    const seg = read(m.segment);
    await verifySegment(rec, seg, subtle);
    for (let i = 0; i < rec.count; i++) {
      const p = seg.slice(i * 16384, i * 16384 + pieceLen(rec, i));
      await verifyPiece(rec, i, p, subtle);
      p[p.length - 1] ^= 1;
      await assert.rejects(verifyPiece(rec, i, p, subtle), isCode("piece"), "flipped bit");
      await assert.rejects(verifyPiece(rec, i, p.subarray(0, p.length - 1), subtle), p.length > 1 ? isCode("piece") : isCode("piece"), "short piece");
    }
    await assert.rejects(verifyPiece(rec, rec.count, seg.subarray(0, 1), subtle), isCode("range"));
    await assert.rejects(verifyPiece(rec, -1, seg.subarray(0, 1), subtle), isCode("range"));
    await assert.rejects(verifySegment(rec, seg.subarray(1), subtle), isCode("piece"));
    if (rec.count > 1) {
      // A piece of the same segment at another index must not pass.
      await assert.rejects(verifyPiece(rec, 1, seg.subarray(0, 16384), subtle), isCode("piece"));
    }
  });

  test(`Go record ${m.record}: refused under another key, tampered, truncated or extended`, async () => {
    const key = await importPublicKey(text("key"), subtle);
    const other = await importPublicKey(text("other.key"), subtle);
    const b = read(m.record);
    await assert.rejects(parseRecord(b, other, subtle), isCode("signature"));
    // Tamper with every byte of the signed body in turn: each must fail (malformed or
    // signature), never verify.
    for (let i = 0; i < b.length; i++) {
      const t = b.slice();
      t[i] ^= 0x01;
      await assert.rejects(parseRecord(t, key, subtle), (e: unknown) => e instanceof RecordError, `byte ${i}`);
    }
    await assert.rejects(parseRecord(b.subarray(0, b.length - 1), key, subtle), isCode("malformed"));
    await assert.rejects(parseRecord(b.subarray(0, 63), key, subtle), isCode("malformed"));
    const ext = new Uint8Array(b.length + 1);
    ext.set(b);
    await assert.rejects(parseRecord(ext, key, subtle), isCode("malformed"));
  });
}
