// One neighbour: its RTCPeerConnection and the "shoal" data channel, the session rules of
// docs/wire.md (HELLO first, early frames held, choke serials, merge-only bitfields). Its
// requests for our pieces go to the swarm's upload line (upload.ts); scheduling decisions
// live in swarm.ts.

import { MAX_OUTSTANDING, MAX_REQUEST_PIECES, Reason, WireError, bitHas, decode, encode, segmentName, type Message, type SegmentId } from "./wire.js";
import type { SignalData } from "./tracker-message.js";
import type { UploadJob } from "./upload.js";

export const HELLO_TIMEOUT_MS = 10000;
const MAX_EARLY_FRAMES = 64;
/** A piece goes to the data channel while it buffers at most this (the Go WebRTC link's bound). */
export const MAX_BUFFERED = 1 << 20;
const LOW_WATER = 256 << 10;
const MAX_PENDING_CANDIDATES = 64;
const PING_INTERVAL_MS = 2000;
/** A holder that said over_cap is left alone this long: a little more than its upload line
 * needs to drain its 200 ms backlog (the Go engine's overCapBackoff). */
const OVER_CAP_BACKOFF_MS = 150;
const MAX_SEGMENTS = 64; // segments of one neighbour's announcements we track
// Delivery-rate EWMA, as the Go engine's (internal/peer): weight, bounds in bytes/s.
const TPUT_ALPHA = 0.2;
const MIN_TPUT = 32 << 10;
const MAX_TPUT = 64 << 20;

/** What a Peer needs from its swarm. */
export interface PeerHost {
  readonly stream: string;
  readonly rendition: string;
  readonly selfId: string;
  /** kbit/s announced in HELLO; 0: we never unchoke. */
  uploadKbps(): number;
  signal(to: string, data: SignalData): void;
  opened(p: Peer): void;
  closed(p: Peer, why: string, violation: boolean): void;
  message(p: Peer, m: Message): void;
  /** Bytes of piece `index` of the segment if we hold it verified, else undefined / "unknown". */
  pieceFor(s: SegmentId, index: number): Uint8Array | undefined | "unknown";
  /** seeded: piece `index` of the segment is of the stripe we seed. */
  seeded(s: SegmentId, index: number): boolean;
  /** enqueueUpload queues on p's link the longest prefix of jobs the upload line takes (upload.ts); returns its length. */
  enqueueUpload(p: Peer, jobs: UploadJob[]): number;
  /** cancelUpload drops p's queued pieces [first, first+count) of seg; all of them without seg. */
  cancelUpload(p: Peer, seg?: SegmentId, first?: number, count?: number): void;
  queuedFor(p: Peer, seq: bigint, index: number): boolean;
  /** writable: p's data channel drained below its low-water mark. */
  writable(p: Peer): void;
  uploaded(p: Peer, bytes: number): void;
}

export interface PeerOptions {
  iceServers?: RTCIceServer[];
  /** ICE through the TURN relays of iceServers only: neighbours see the relay's address,
   * never the viewer's (`shoal turn`; docs/abuse.md). */
  relayOnly?: boolean;
  RTCPeerConnection?: typeof RTCPeerConnection;
}

/** Peer is one neighbour connection. */
export class Peer {
  readonly pc: RTCPeerConnection;
  readonly dc: RTCDataChannel;
  open = false;
  closed = false;
  private helloSeen = false;
  private early: Uint8Array[] = [];
  private helloTimer: ReturnType<typeof setTimeout>;
  private pingTimer?: ReturnType<typeof setInterval>;
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private localCandidates: RTCIceCandidateInit[] = [];
  private described = false;
  private remoteSet = false;

  /** Remote's announced pieces per segment name; merged, never cleared by BITFIELD. */
  readonly has = new Map<string, Set<number>>();
  /** Remote's piece counts from BITFIELD (checked against records). */
  readonly counts = new Map<string, number>();
  remoteUploadKbps = 0;
  /** Whether the remote chokes us (each direction starts choked). */
  chokesUs = true;
  private chokeSerialIn = 0;
  private chokeSerialOut = 0;
  weChoke = true;
  /** Our requests to the remote not yet answered: "seg/index" → sent at (ms). */
  readonly outstanding = new Map<string, number>();
  backoffUntil = 0;
  rttMs = 200;
  /** Rate it delivers requested pieces to us, bytes/s; 0 until measured. */
  tput = 0;
  private lastRecv = 0;
  private pingToken = 0;
  private pingSent = 0;
  bytesUp = 0;
  bytesDown = 0;

  constructor(
    readonly id: string,
    readonly initiator: boolean,
    private readonly host: PeerHost,
    opts: PeerOptions,
  ) {
    const PC = opts.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    this.pc = new PC({ iceServers: opts.iceServers ?? [], iceTransportPolicy: opts.relayOnly ? "relay" : "all" });
    this.dc = this.pc.createDataChannel("shoal", { negotiated: true, id: 0, ordered: false });
    this.dc.binaryType = "arraybuffer";
    this.dc.bufferedAmountLowThreshold = LOW_WATER;
    this.dc.onopen = () => this.onOpen();
    this.dc.onclose = () => this.close("channel closed");
    this.dc.onmessage = (ev) => this.onFrame(new Uint8Array(ev.data as ArrayBuffer));
    this.dc.onbufferedamountlow = () => this.host.writable(this);
    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate) return; // end of gathering: the Go side needs no marker
      const c = ev.candidate.toJSON();
      if (!this.described) {
        if (this.localCandidates.length < MAX_PENDING_CANDIDATES) this.localCandidates.push(c);
        return;
      }
      this.sendCandidate(c);
    };
    this.pc.onconnectionstatechange = () => {
      const st = this.pc.connectionState;
      if (st === "failed" || st === "closed") this.close(`connection ${st}`);
    };
    this.helloTimer = setTimeout(() => this.close("no HELLO within 10 s", true), HELLO_TIMEOUT_MS + 20000);
    if (initiator) void this.offer();
  }

  private sendCandidate(c: RTCIceCandidateInit): void {
    this.host.signal(this.id, {
      type: "candidate",
      candidate: { candidate: c.candidate ?? "", sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined, usernameFragment: c.usernameFragment ?? undefined },
    });
  }

  private describe(type: "offer" | "answer", sdp: string): void {
    this.host.signal(this.id, { type, sdp });
    this.described = true;
    for (const c of this.localCandidates.splice(0)) this.sendCandidate(c);
  }

  private async offer(): Promise<void> {
    try {
      const o = await this.pc.createOffer();
      await this.pc.setLocalDescription(o);
      this.describe("offer", this.pc.localDescription!.sdp);
    } catch (e) {
      this.close(`offer: ${(e as Error).message}`);
    }
  }

  /** handleSignal applies an offer, answer or candidate relayed by the tracker. */
  async handleSignal(d: SignalData): Promise<void> {
    if (this.closed) return;
    try {
      if (d.type === "offer" && !this.initiator) {
        await this.pc.setRemoteDescription({ type: "offer", sdp: d.sdp! });
        await this.flushCandidates();
        const a = await this.pc.createAnswer();
        await this.pc.setLocalDescription(a);
        this.describe("answer", this.pc.localDescription!.sdp);
      } else if (d.type === "answer" && this.initiator && this.pc.signalingState === "have-local-offer") {
        await this.pc.setRemoteDescription({ type: "answer", sdp: d.sdp! });
        await this.flushCandidates();
      } else if (d.type === "candidate" && d.candidate) {
        if (d.candidate.candidate === "") return; // end of candidates
        const c: RTCIceCandidateInit = {
          candidate: d.candidate.candidate,
          sdpMid: d.candidate.sdpMid ?? undefined,
          sdpMLineIndex: d.candidate.sdpMLineIndex ?? undefined,
          usernameFragment: d.candidate.usernameFragment ?? undefined,
        };
        if (!this.remoteSet) {
          if (this.pendingCandidates.length < MAX_PENDING_CANDIDATES) this.pendingCandidates.push(c);
          return;
        }
        await this.pc.addIceCandidate(c);
      }
    } catch (e) {
      this.close(`signal ${d.type}: ${(e as Error).message}`);
    }
  }

  private async flushCandidates(): Promise<void> {
    this.remoteSet = true;
    for (const c of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(c);
  }

  private onOpen(): void {
    if (this.closed) return;
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => this.close("no HELLO within 10 s", true), HELLO_TIMEOUT_MS);
    this.send({ type: "hello", maxVersion: 1, stream: this.host.stream, rendition: this.host.rendition, peerId: this.host.selfId, uploadKbps: this.host.uploadKbps() });
  }

  private onFrame(b: Uint8Array): void {
    if (this.closed) return;
    if (!this.helloSeen) {
      let m: Message | undefined;
      try {
        m = decode(b);
      } catch (e) {
        if (e instanceof WireError && e.code === "unknown_type") return;
        this.close(`protocol: ${(e as Error).message}`, true);
        return;
      }
      if (m.type !== "hello") {
        if (this.early.length >= MAX_EARLY_FRAMES) this.close("more than 64 frames before HELLO", true);
        else this.early.push(b.slice());
        return;
      }
      if (m.stream !== this.host.stream || m.rendition !== this.host.rendition || m.peerId !== this.id) {
        this.close(`wrong swarm HELLO (${m.stream}/${m.rendition} from ${m.peerId})`, true);
        return;
      }
      this.helloSeen = true;
      this.remoteUploadKbps = m.uploadKbps;
      clearTimeout(this.helloTimer);
      this.open = true;
      this.host.opened(this);
      if (this.host.uploadKbps() > 0) this.unchoke();
      this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
      for (const f of this.early.splice(0)) if (!this.closed) this.onFrame(f);
      return;
    }
    let m: Message;
    try {
      m = decode(b);
    } catch (e) {
      if (e instanceof WireError && e.code === "unknown_type") return; // forward compatibility
      this.close(`protocol: ${(e as Error).message}`, true);
      return;
    }
    this.handle(m);
  }

  private handle(m: Message): void {
    switch (m.type) {
      case "hello":
        this.close("second HELLO", true);
        return;
      case "choke":
      case "unchoke":
        if (m.serial <= this.chokeSerialIn) return; // an older state overtaken by a newer one
        this.chokeSerialIn = m.serial;
        this.chokesUs = m.type === "choke";
        if (this.chokesUs) this.outstanding.clear(); // our requests are void
        break;
      case "bitfield": {
        const name = segmentName(m);
        if (m.pieces === 0) {
          this.has.delete(name);
          this.counts.delete(name);
          break;
        }
        this.counts.set(name, m.pieces);
        let s = this.has.get(name);
        if (!s && this.has.size >= MAX_SEGMENTS) break; // bounded: the swarm prunes old ones
        if (!s) this.has.set(name, (s = new Set()));
        for (let i = 0; i < m.pieces; i++) if (bitHas(m.bitmap, i)) s.add(i);
        break;
      }
      case "have": {
        const name = segmentName(m);
        let s = this.has.get(name);
        if (!s && this.has.size >= MAX_SEGMENTS) break; // bounded: the swarm prunes old ones
        if (!s) this.has.set(name, (s = new Set()));
        for (let i = m.first; i < m.first + m.count; i++) s.add(i);
        break;
      }
      case "request":
        this.onRequest(m);
        return;
      case "cancel": {
        this.host.cancelUpload(this, m, m.first, m.count);
        return;
      }
      case "ping":
        this.send({ type: "pong", token: m.token });
        return;
      case "subscribe":
        return; // this SDK does not push yet: its neighbours pull from it (docs/wire.md)
      case "pong":
        if (m.token === this.pingToken && this.pingSent) {
          this.rttMs = 0.8 * this.rttMs + 0.2 * (performance.now() - this.pingSent);
          this.pingSent = 0;
        }
        return;
      case "reject": {
        const name = segmentName(m);
        for (let i = m.first; i < m.first + m.count; i++) this.outstanding.delete(`${name}/${i}`);
        if (m.reason === Reason.NotHeld) {
          const s = this.has.get(name);
          for (let i = m.first; i < m.first + m.count; i++) s?.delete(i);
        } else if (m.reason === Reason.Choked) {
          this.chokesUs = true;
        } else if (m.reason === Reason.OverCap) {
          this.backoffUntil = performance.now() + OVER_CAP_BACKOFF_MS;
        } else if (m.reason === Reason.UnknownSegment) {
          this.has.delete(name);
        }
        break;
      }
      case "piece":
        this.outstanding.delete(`${segmentName(m)}/${m.index}`);
        this.bytesDown += m.data.length;
        break;
    }
    this.host.message(this, m);
  }

  private onRequest(m: Extract<Message, { type: "request" }>): void {
    const reject = (first: number, count: number, reason: number) =>
      this.send({ type: "reject", epoch: m.epoch, seq: m.seq, first, count, reason });
    if (this.weChoke) return reject(m.first, m.count, Reason.Choked);
    // Runs of pieces we do not hold: one REJECT each; held ones go to the upload line.
    const seg = { epoch: m.epoch, seq: m.seq };
    const jobs: UploadJob[] = [];
    let runStart = -1;
    let runReason = 0;
    const flush = (end: number) => {
      if (runStart >= 0) reject(runStart, end - runStart, runReason);
      runStart = -1;
    };
    for (let i = m.first; i < m.first + m.count; i++) {
      const p = this.host.pieceFor(m, i);
      if (p instanceof Uint8Array) {
        flush(i);
        // A piece already queued for them: that PIECE answers this request too.
        if (!this.host.queuedFor(this, m.seq, i)) jobs.push({ seg, index: i, size: p.length, seeded: this.host.seeded(m, i) });
        continue;
      }
      const reason = p === "unknown" ? Reason.UnknownSegment : Reason.NotHeld;
      if (runStart >= 0 && reason !== runReason) flush(i);
      if (runStart < 0) {
        runStart = i;
        runReason = reason;
      }
    }
    flush(m.first + m.count);
    // Over the cap: refuse the held pieces that did not fit, in contiguous runs.
    const rest = jobs.slice(this.host.enqueueUpload(this, jobs));
    for (let j = 0; j < rest.length; ) {
      let k = j + 1;
      while (k < rest.length && rest[k].index === rest[k - 1].index + 1) k++;
      reject(rest[j].index, k - j, Reason.OverCap);
      j = k;
    }
  }

  /** sendPiece hands a piece the upload line released to the data channel. */
  sendPiece(seg: SegmentId, index: number, data: Uint8Array): void {
    this.send({ type: "piece", epoch: seg.epoch, seq: seg.seq, index, data });
    this.bytesUp += data.length;
    this.host.uploaded(this, data.length);
  }

  /** request asks for pieces [first, first+count) of seg (count ≤ 256). */
  request(seg: SegmentId, first: number, count: number): void {
    const name = segmentName(seg);
    const now = performance.now();
    for (let i = first; i < first + count; i++) this.outstanding.set(`${name}/${i}`, now);
    for (let off = 0; off < count; off += MAX_REQUEST_PIECES) {
      this.send({ type: "request", epoch: seg.epoch, seq: seg.seq, first: first + off, count: Math.min(MAX_REQUEST_PIECES, count - off) });
    }
  }

  cancel(seg: SegmentId, index: number): void {
    this.outstanding.delete(`${segmentName(seg)}/${index}`);
    this.send({ type: "cancel", epoch: seg.epoch, seq: seg.seq, first: index, count: 1 });
  }

  /**
   * noteDelivery updates tput with a piece of `bytes` that arrived at `now`, requested at
   * `since` (undefined: unrequested, no sample). The interval starts at the later of the
   * request and the previous piece, so a queue of requests measures the link, not the wait.
   */
  noteDelivery(bytes: number, since: number | undefined, now: number): void {
    const start = Math.max(since ?? now, this.lastRecv);
    this.lastRecv = now;
    const dt = (now - start) / 1000;
    if (since === undefined || dt <= 0) return;
    const sample = bytes / dt;
    this.tput = this.tput === 0 ? sample : this.tput + TPUT_ALPHA * (sample - this.tput);
    this.tput = Math.min(Math.max(this.tput, MIN_TPUT), MAX_TPUT);
  }

  holds(name: string, index: number): boolean {
    return this.has.get(name)?.has(index) ?? false;
  }

  unchoke(): void {
    if (!this.weChoke) return;
    this.weChoke = false;
    this.send({ type: "unchoke", serial: ++this.chokeSerialOut });
  }

  choke(): void {
    if (this.weChoke) return;
    this.weChoke = true;
    this.host.cancelUpload(this); // dropped unanswered, as the spec says
    this.send({ type: "choke", serial: ++this.chokeSerialOut });
  }

  private ping(): void {
    if (this.pingSent && performance.now() - this.pingSent > 10000) {
      this.close("three PINGs unanswered");
      return;
    }
    if (this.pingSent) return;
    this.pingToken = (this.pingToken + 1) >>> 0;
    this.pingSent = performance.now();
    this.send({ type: "ping", token: this.pingToken });
  }

  send(m: Message): void {
    if (this.closed || this.dc.readyState !== "open") return;
    try {
      this.dc.send(encode(m) as Uint8Array<ArrayBuffer>);
    } catch (e) {
      this.close(`send: ${(e as Error).message}`);
    }
  }

  /** close ends the connection; violation: a protocol violation (do not reconnect). */
  close(why: string, violation = false): void {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    clearTimeout(this.helloTimer);
    clearInterval(this.pingTimer);
    this.outstanding.clear();
    try {
      this.dc.close();
      this.pc.close();
    } catch {
      // already closed
    }
    this.host.closed(this, why, violation);
  }
}
