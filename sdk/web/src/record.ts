// Signed piece-hash records (docs/integrity.md): parse, verify the origin's Ed25519
// signature and check pieces against their SHA-256, all with WebCrypto. Mirrors
// internal/manifest; checked against records Go produced (testdata/integrity).

import { PIECE_SIZE } from "./wire.js";

export const MAX_SEGMENT_SIZE = 256 << 20;
const MAX_DURATION_US = 24 * 3600 * 1e6;
const SIG_LEN = 64;
const HASH_LEN = 32;
const MAGIC = [0x53, 0x48, 0x52, 0x31]; // "SHR1"

export type RecordErrorCode = "malformed" | "signature" | "piece" | "range" | "key";

export class RecordError extends Error {
  constructor(
    readonly code: RecordErrorCode,
    detail: string,
  ) {
    super(`record: ${code}: ${detail}`);
    this.name = "RecordError";
  }
}

/** SegmentRecord is one published segment's signed description. */
export interface SegmentRecord {
  stream: string;
  rendition: string;
  epoch: string;
  seq: bigint;
  /** Segment path relative to /live/{stream}/. */
  uri: string;
  size: number;
  durationUs: number;
  pieceSize: number;
  /** Number of pieces: ceil(size / pieceSize). */
  count: number;
  /** count × 32 bytes: the SHA-256 of each piece, in order. */
  hashes: Uint8Array;
}

/** Crypto is the part of WebCrypto the SDK needs; crypto.subtle in a secure context. */
export type Subtle = Pick<SubtleCrypto, "digest" | "verify" | "importKey">;

/** defaultSubtle returns crypto.subtle, or undefined outside a secure context. */
export function defaultSubtle(): Subtle | undefined {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  return c && c.subtle ? c.subtle : undefined;
}

function fromBase64(s: string): Uint8Array | undefined {
  try {
    const bin = atob(s.trim());
    const b = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
    return b;
  } catch {
    return undefined;
  }
}

/**
 * importPublicKey turns the body of /live/{stream}/key (or a pinned trustedKey: the same
 * base64 text) into a verification key. It throws RecordError "key" when the text is not
 * the base64 of 32 bytes or the browser has no Ed25519.
 */
export async function importPublicKey(text: string, subtle: Subtle): Promise<CryptoKey> {
  const raw = fromBase64(text);
  if (!raw || raw.length !== 32) throw new RecordError("key", "want the base64 of a 32-byte Ed25519 public key");
  try {
    return await subtle.importKey("raw", raw as BufferSource, { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    throw new RecordError("key", `Ed25519 not available: ${(e as Error).message}`);
  }
}

class Reader {
  off = 0;
  private readonly view: DataView;
  constructor(readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  next(n: number): Uint8Array {
    if (n > this.b.length - this.off) throw new RecordError("malformed", "truncated");
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  u16(): number {
    this.next(2);
    return this.view.getUint16(this.off - 2);
  }
  u32(): number {
    this.next(4);
    return this.view.getUint32(this.off - 4);
  }
  u64(): bigint {
    this.next(8);
    return this.view.getBigUint64(this.off - 8);
  }
  str8(): string {
    return utf8.decode(this.next(this.next(1)[0]));
  }
}
const utf8 = new TextDecoder();

/** decodeRecord decodes a record's signed body (everything before the signature). */
export function decodeRecord(body: Uint8Array): SegmentRecord {
  const r = new Reader(body);
  const m = r.next(4);
  if (!MAGIC.every((c, i) => m[i] === c)) throw new RecordError("malformed", "bad magic");
  const stream = r.str8();
  const rendition = r.str8();
  const epoch = r.str8();
  const seq = r.u64();
  const uri = utf8.decode(r.next(r.u16()));
  const size = r.u64();
  const durUs = r.u64();
  const pieceSize = r.u32();
  const count = r.u32();
  if (size === 0n || size > BigInt(MAX_SEGMENT_SIZE)) throw new RecordError("malformed", `size ${size}`);
  if (pieceSize === 0 || pieceSize > MAX_SEGMENT_SIZE) throw new RecordError("malformed", `piece size ${pieceSize}`);
  if (BigInt(count) !== (size + BigInt(pieceSize) - 1n) / BigInt(pieceSize)) throw new RecordError("malformed", `${count} hashes for ${size} bytes`);
  if (durUs > BigInt(MAX_DURATION_US)) throw new RecordError("malformed", `duration ${durUs}us`);
  if (body.length - r.off !== count * HASH_LEN) throw new RecordError("malformed", `${body.length - r.off} hash bytes for ${count} hashes`);
  const hashes = body.slice(r.off);
  return { stream, rendition, epoch, seq, uri, size: Number(size), durationUs: Number(durUs), pieceSize, count, hashes };
}

/**
 * parseRecord decodes a signed record (the body of a .rec) and verifies its signature
 * with key. A record whose piece size is not the wire's 16384 is refused too: its pieces
 * could not travel between peers.
 */
export async function parseRecord(b: Uint8Array, key: CryptoKey, subtle: Subtle): Promise<SegmentRecord> {
  if (b.length < SIG_LEN) throw new RecordError("malformed", `${b.length} bytes`);
  const body = b.subarray(0, b.length - SIG_LEN);
  const sig = b.subarray(b.length - SIG_LEN);
  const rec = decodeRecord(body);
  if (rec.pieceSize !== PIECE_SIZE) throw new RecordError("malformed", `piece size ${rec.pieceSize}, want ${PIECE_SIZE}`);
  const ok = await subtle.verify({ name: "Ed25519" }, key, sig as BufferSource, body as BufferSource);
  if (!ok) throw new RecordError("signature", `${rec.rendition} ${rec.epoch}-${rec.seq}`);
  return rec;
}

/** pieceLen returns the length of piece i, or 0 when i is out of range. */
export function pieceLen(rec: SegmentRecord, i: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= rec.count) return 0;
  return Math.min(rec.pieceSize, rec.size - i * rec.pieceSize);
}

/** verifyPiece checks piece i's bytes (length and SHA-256) against the record. */
export async function verifyPiece(rec: SegmentRecord, i: number, data: Uint8Array, subtle: Subtle): Promise<void> {
  if (!Number.isInteger(i) || i < 0 || i >= rec.count) throw new RecordError("range", `piece ${i} of ${rec.count}`);
  if (data.length !== pieceLen(rec, i)) throw new RecordError("piece", `piece ${i}: ${data.length} bytes, want ${pieceLen(rec, i)}`);
  const h = new Uint8Array(await subtle.digest("SHA-256", data as BufferSource));
  const want = rec.hashes.subarray(i * HASH_LEN, (i + 1) * HASH_LEN);
  for (let k = 0; k < HASH_LEN; k++) {
    if (h[k] !== want[k]) throw new RecordError("piece", `${rec.rendition} ${rec.epoch}-${rec.seq} piece ${i}: hash mismatch`);
  }
}

/** verifySegment checks a whole segment's bytes against the record. */
export async function verifySegment(rec: SegmentRecord, data: Uint8Array, subtle: Subtle): Promise<void> {
  if (data.length !== rec.size) throw new RecordError("piece", `size ${data.length}, record says ${rec.size}`);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < rec.count; i++) {
    const off = i * rec.pieceSize;
    jobs.push(verifyPiece(rec, i, data.subarray(off, off + pieceLen(rec, i)), subtle));
  }
  await Promise.all(jobs);
}
