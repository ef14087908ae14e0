// Peer wire protocol, version 1 (docs/wire.md): the binary frames two shoal peers (Go or
// browser) exchange over one WebRTC data channel. Codec only, no I/O. The golden vectors
// in testdata/wire/vectors.json are shared byte for byte with internal/wire.

export const VERSION = 1;
export const PIECE_SIZE = 16384;
export const MAX_PIECES = 16384;
export const MAX_FRAME_SIZE = 16415;
export const MAX_REQUEST_PIECES = 256;
export const MAX_OUTSTANDING = 256;
export const MAX_EPOCH_LEN = 16;
export const MAX_NAME_LEN = 64;

/** Message type bytes. */
export const T = {
  Hello: 0x01,
  Bitfield: 0x02,
  Have: 0x03,
  Request: 0x04,
  Piece: 0x05,
  Cancel: 0x06,
  Reject: 0x07,
  Choke: 0x08,
  Unchoke: 0x09,
  Ping: 0x0a,
  Pong: 0x0b,
  Subscribe: 0x0c,
} as const;

/** MAX_SUBSTREAMS bounds a SUBSCRIBE's substream count (its mask is a u32). */
export const MAX_SUBSTREAMS = 32;

/** REJECT reasons; a reason the receiver does not know is read as Unspecified. */
export const Reason = {
  Unspecified: 0,
  NotHeld: 1,
  Choked: 2,
  OverCap: 3,
  UnknownSegment: 4,
} as const;

/** Decoding errors, named as in docs/wire.md and the vectors. */
export type WireErrorCode = "short" | "version" | "unknown_type" | "too_large" | "invalid";

export class WireError extends Error {
  constructor(
    readonly code: WireErrorCode,
    detail: string,
  ) {
    super(`wire: ${code}: ${detail}`);
    this.name = "WireError";
  }
}

/** A segment of the connection's swarm: seq is a u64, hence a bigint. */
export interface SegmentId {
  epoch: string;
  seq: bigint;
}

export interface Hello {
  type: "hello";
  maxVersion: number;
  stream: string;
  rendition: string;
  peerId: string;
  uploadKbps: number;
}
export interface Bitfield extends SegmentId {
  type: "bitfield";
  pieces: number;
  /** ceil(pieces/8) bytes, MSB first; aliases the decoded frame. */
  bitmap: Uint8Array;
}
export interface Range extends SegmentId {
  first: number;
  count: number;
}
export interface Have extends Range {
  type: "have";
}
export interface Request extends Range {
  type: "request";
}
export interface Cancel extends Range {
  type: "cancel";
}
export interface Reject extends Range {
  type: "reject";
  reason: number;
}
export interface Piece extends SegmentId {
  type: "piece";
  index: number;
  /** Aliases the decoded frame. */
  data: Uint8Array;
}
export interface Choke {
  type: "choke";
  serial: number;
}
export interface Unchoke {
  type: "unchoke";
  serial: number;
}
export interface Ping {
  type: "ping";
  token: number;
}
export interface Pong {
  type: "pong";
  token: number;
}

/** Subscribe: push me every piece you verify of the substreams in mask (piece i of
 * segment seq is in substream (i + seq) mod substreams); it replaces the last one. */
export interface Subscribe {
  type: "subscribe";
  substreams: number;
  mask: number;
}

export type Message = Hello | Bitfield | Have | Request | Cancel | Reject | Piece | Choke | Unchoke | Ping | Pong | Subscribe;

function checkSubscribe(substreams: number, mask: number): void {
  if (substreams === 0) throw new WireError("invalid", "SUBSCRIBE with 0 substreams");
  if (substreams > MAX_SUBSTREAMS) throw new WireError("too_large", `SUBSCRIBE with ${substreams} substreams`);
  if (substreams < 32 && Math.floor(mask / 2 ** substreams) !== 0) throw new WireError("invalid", `mask beyond ${substreams} substreams`);
}

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

function isNameByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;
}
function isPeerIdByte(c: number): boolean {
  return isNameByte(c) || c === 0x2e || c === 0x7e;
}
function isEpochByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

function checkName(what: string, b: ArrayLike<number>, max: number, ok: (c: number) => boolean): void {
  if (b.length === 0) throw new WireError("invalid", `empty ${what}`);
  if (b.length > max) throw new WireError("too_large", `${what} of ${b.length} bytes > ${max}`);
  for (let i = 0; i < b.length; i++) {
    if (!ok(b[i])) throw new WireError("invalid", `${what} byte 0x${b[i].toString(16)}`);
  }
}

function checkRange(first: number, count: number, max: number): void {
  if (count === 0) throw new WireError("invalid", "count 0");
  if (count > max) throw new WireError("too_large", `count ${count} > ${max}`);
  if (first + count > MAX_PIECES) throw new WireError("invalid", `range ${first}+${count} past ${MAX_PIECES}`);
}

function checkSpare(pieces: number, bitmap: Uint8Array): void {
  if (pieces % 8 === 0) return;
  const mask = 0xff >> pieces % 8;
  if ((bitmap[bitmap.length - 1] & mask) !== 0) throw new WireError("invalid", "spare bit set");
}

/** bitfieldLen returns ceil(pieces/8), the byte length of a bitmap of pieces pieces. */
export function bitfieldLen(pieces: number): number {
  return (pieces + 7) >>> 3;
}
export function bitHas(b: Uint8Array, i: number): boolean {
  return i >= 0 && i >> 3 < b.length && (b[i >> 3] & (0x80 >> (i & 7))) !== 0;
}
export function bitSet(b: Uint8Array, i: number): void {
  if (i >= 0 && i >> 3 < b.length) b[i >> 3] |= 0x80 >> (i & 7);
}

class Reader {
  private off = 2;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  get rest(): number {
    return this.b.length - this.off;
  }
  take(n: number, what: string): Uint8Array {
    if (n > this.rest) throw new WireError("short", `${what}: need ${n} bytes, have ${this.rest}`);
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  u8(what: string): number {
    return this.take(1, what)[0];
  }
  u32(what: string): number {
    this.take(4, what);
    return this.view.getUint32(this.off - 4);
  }
  u64(what: string): bigint {
    this.take(8, what);
    return this.view.getBigUint64(this.off - 8);
  }
  str(what: string, max: number, ok: (c: number) => boolean): string {
    if (this.rest === 0) throw new WireError("short", `${what} length missing`);
    const p = this.take(this.u8(what), what);
    checkName(what, p, max, ok);
    return String.fromCharCode(...p); // checked ASCII
  }
  segment(): SegmentId {
    const epoch = this.str("epoch", MAX_EPOCH_LEN, isEpochByte);
    return { epoch, seq: this.u64("seq") };
  }
  range(max: number): Range {
    const s = this.segment();
    const first = this.u32("first");
    const count = this.u32("count");
    checkRange(first, count, max);
    return { epoch: s.epoch, seq: s.seq, first, count };
  }
  serial(): number {
    const s = this.u32("serial");
    if (s === 0) throw new WireError("invalid", "serial 0");
    return s;
  }
  remaining(): Uint8Array {
    return this.take(this.rest, "data");
  }
}

/**
 * decode parses one frame, checking in the order docs/wire.md fixes so that it reports the
 * same error as the Go decoder. Bitmaps and piece data alias `b`.
 */
export function decode(b: Uint8Array): Message {
  if (b.length < 2) throw new WireError("short", `frame of ${b.length} bytes`);
  if (b[0] !== VERSION) throw new WireError("version", `${b[0]}`);
  if (b.length > MAX_FRAME_SIZE) throw new WireError("too_large", `frame of ${b.length} bytes`);
  const r = new Reader(b);
  let m: Message;
  switch (b[1]) {
    case T.Hello: {
      const maxVersion = r.u8("max version");
      if (maxVersion === 0) throw new WireError("invalid", "max version 0");
      const stream = r.str("stream", MAX_NAME_LEN, isNameByte);
      const rendition = r.str("rendition", MAX_NAME_LEN, isNameByte);
      const peerId = r.str("peer id", MAX_NAME_LEN, isPeerIdByte);
      m = { type: "hello", maxVersion, stream, rendition, peerId, uploadKbps: r.u32("upload") };
      break;
    }
    case T.Bitfield: {
      const s = r.segment();
      const pieces = r.u32("pieces");
      if (pieces > MAX_PIECES) throw new WireError("too_large", `pieces ${pieces}`);
      const bitmap = r.take(bitfieldLen(pieces), "bitmap");
      checkSpare(pieces, bitmap);
      m = { type: "bitfield", epoch: s.epoch, seq: s.seq, pieces, bitmap };
      break;
    }
    case T.Have:
      m = { type: "have", ...r.range(MAX_PIECES) };
      break;
    case T.Request:
      m = { type: "request", ...r.range(MAX_REQUEST_PIECES) };
      break;
    case T.Cancel:
      m = { type: "cancel", ...r.range(MAX_PIECES) };
      break;
    case T.Reject: {
      const rg = r.range(MAX_PIECES);
      m = { type: "reject", ...rg, reason: r.u8("reason") };
      break;
    }
    case T.Piece: {
      const s = r.segment();
      const index = r.u32("index");
      if (index >= MAX_PIECES) throw new WireError("invalid", `index ${index}`);
      const data = r.remaining();
      if (data.length === 0) throw new WireError("invalid", "empty piece");
      if (data.length > PIECE_SIZE) throw new WireError("too_large", `piece of ${data.length} bytes`);
      m = { type: "piece", epoch: s.epoch, seq: s.seq, index, data };
      break;
    }
    case T.Choke:
      m = { type: "choke", serial: r.serial() };
      break;
    case T.Unchoke:
      m = { type: "unchoke", serial: r.serial() };
      break;
    case T.Ping:
      m = { type: "ping", token: r.u32("token") };
      break;
    case T.Pong:
      m = { type: "pong", token: r.u32("token") };
      break;
    case T.Subscribe: {
      const substreams = r.u8("substreams");
      if (substreams === 0) throw new WireError("invalid", "SUBSCRIBE with 0 substreams");
      if (substreams > MAX_SUBSTREAMS) throw new WireError("too_large", `SUBSCRIBE with ${substreams} substreams`);
      const mask = r.u32("mask");
      checkSubscribe(substreams, mask);
      m = { type: "subscribe", substreams, mask };
      break;
    }
    default:
      throw new WireError("unknown_type", `0x${b[1].toString(16).padStart(2, "0")}`);
  }
  if (r.rest !== 0) throw new WireError("invalid", `${m.type} has ${r.rest} trailing bytes`);
  return m;
}

function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function checkU32(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new WireError("invalid", `${what} ${v} is not a u32`);
}

/** Writer grows nothing: the frame's size is computed first. */
class Writer {
  readonly b: Uint8Array;
  private readonly view: DataView;
  private off = 0;
  constructor(size: number) {
    this.b = new Uint8Array(size);
    this.view = new DataView(this.b.buffer);
  }
  u8(v: number): void {
    this.b[this.off++] = v;
  }
  u32(v: number): void {
    this.view.setUint32(this.off, v);
    this.off += 4;
  }
  u64(v: bigint): void {
    this.view.setBigUint64(this.off, v);
    this.off += 8;
  }
  bytes(p: Uint8Array): void {
    this.b.set(p, this.off);
    this.off += p.length;
  }
  str(p: Uint8Array): void {
    this.u8(p.length);
    this.bytes(p);
  }
}

function segBytes(m: SegmentId): Uint8Array {
  const e = ascii(m.epoch);
  checkName("epoch", e, MAX_EPOCH_LEN, isEpochByte);
  if (typeof m.seq !== "bigint" || m.seq < 0n || m.seq > U64_MAX) throw new WireError("invalid", `seq ${m.seq}`);
  return e;
}

/**
 * encode renders m as one frame. It throws WireError for a message no decoder would
 * accept, so an invalid frame never reaches a peer (which would close the connection).
 */
export function encode(m: Message): Uint8Array {
  let w: Writer;
  switch (m.type) {
    case "hello": {
      if (!Number.isInteger(m.maxVersion) || m.maxVersion < 1 || m.maxVersion > 255) throw new WireError("invalid", `max version ${m.maxVersion}`);
      const s = ascii(m.stream);
      const r = ascii(m.rendition);
      const p = ascii(m.peerId);
      checkName("stream", s, MAX_NAME_LEN, isNameByte);
      checkName("rendition", r, MAX_NAME_LEN, isNameByte);
      checkName("peer id", p, MAX_NAME_LEN, isPeerIdByte);
      checkU32("upload", m.uploadKbps);
      w = new Writer(2 + 1 + 3 + s.length + r.length + p.length + 4);
      w.u8(VERSION);
      w.u8(T.Hello);
      w.u8(m.maxVersion);
      w.str(s);
      w.str(r);
      w.str(p);
      w.u32(m.uploadKbps);
      return w.b;
    }
    case "bitfield": {
      const e = segBytes(m);
      checkU32("pieces", m.pieces);
      if (m.pieces > MAX_PIECES) throw new WireError("too_large", `pieces ${m.pieces}`);
      if (m.bitmap.length !== bitfieldLen(m.pieces)) throw new WireError("invalid", `bitmap of ${m.bitmap.length} bytes for ${m.pieces} pieces`);
      checkSpare(m.pieces, m.bitmap);
      w = new Writer(2 + 1 + e.length + 8 + 4 + m.bitmap.length);
      w.u8(VERSION);
      w.u8(T.Bitfield);
      w.str(e);
      w.u64(m.seq);
      w.u32(m.pieces);
      w.bytes(m.bitmap);
      return w.b;
    }
    case "have":
    case "request":
    case "cancel":
    case "reject": {
      const e = segBytes(m);
      checkU32("first", m.first);
      checkU32("count", m.count);
      checkRange(m.first, m.count, m.type === "request" ? MAX_REQUEST_PIECES : MAX_PIECES);
      const isReject = m.type === "reject";
      w = new Writer(2 + 1 + e.length + 8 + 8 + (isReject ? 1 : 0));
      w.u8(VERSION);
      w.u8(m.type === "have" ? T.Have : m.type === "request" ? T.Request : m.type === "cancel" ? T.Cancel : T.Reject);
      w.str(e);
      w.u64(m.seq);
      w.u32(m.first);
      w.u32(m.count);
      if (m.type === "reject") {
        if (!Number.isInteger(m.reason) || m.reason < 0 || m.reason > 255) throw new WireError("invalid", `reason ${m.reason}`);
        w.u8(m.reason);
      }
      return w.b;
    }
    case "piece": {
      const e = segBytes(m);
      checkU32("index", m.index);
      if (m.index >= MAX_PIECES) throw new WireError("invalid", `index ${m.index}`);
      if (m.data.length === 0) throw new WireError("invalid", "empty piece");
      if (m.data.length > PIECE_SIZE) throw new WireError("too_large", `piece of ${m.data.length} bytes`);
      w = new Writer(2 + 1 + e.length + 8 + 4 + m.data.length);
      w.u8(VERSION);
      w.u8(T.Piece);
      w.str(e);
      w.u64(m.seq);
      w.u32(m.index);
      w.bytes(m.data);
      return w.b;
    }
    case "choke":
    case "unchoke":
    case "ping":
    case "pong": {
      const v = m.type === "choke" || m.type === "unchoke" ? m.serial : m.token;
      checkU32(m.type === "ping" || m.type === "pong" ? "token" : "serial", v);
      if ((m.type === "choke" || m.type === "unchoke") && v === 0) throw new WireError("invalid", "serial 0");
      w = new Writer(6);
      w.u8(VERSION);
      w.u8(m.type === "choke" ? T.Choke : m.type === "unchoke" ? T.Unchoke : m.type === "ping" ? T.Ping : T.Pong);
      w.u32(v);
      return w.b;
    }
    case "subscribe": {
      if (!Number.isInteger(m.substreams) || m.substreams < 0 || m.substreams > 255) throw new WireError("invalid", `substreams ${m.substreams}`);
      checkU32("mask", m.mask);
      checkSubscribe(m.substreams, m.mask);
      w = new Writer(7);
      w.u8(VERSION);
      w.u8(T.Subscribe);
      w.u8(m.substreams);
      w.u32(m.mask);
      return w.b;
    }
  }
}

/** segmentName is the segment's identity in URLs and tracker reports: "{epoch}-{seq}". */
export function segmentName(s: SegmentId): string {
  return `${s.epoch}-${s.seq}`;
}
