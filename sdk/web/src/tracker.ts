// WebSocket tracker client (docs/tracker.md): join a swarm, receive the welcome and later
// neighbour changes, relay WebRTC signalling, send stats and bad-piece reports.

import { Emitter } from "./emitter.js";
import {
  decodeServer,
  encode,
  TrackerMessageError,
  type ClientMessage,
  type Neighbour,
  type Policy,
  type ServerMessage,
  type SignalData,
  type Stripe,
  type Welcome,
} from "./tracker-message.js";

export interface TrackerOptions {
  /** ws:// or wss:// URL of the tracker, e.g. wss://edge.example/tracker. */
  url: string;
  stream: string;
  rendition: string;
  /** bit/s this peer is willing to upload; 0 = unknown or none. */
  uploadCapacity?: number;
  region?: string;
  /** Viewer token for the stream, when the tracker requires one. */
  token?: string;
  /** On a title: where the viewer plays, seconds from its start (the tracker introduces viewers playing near it). */
  position?: number;
  /** WebSocket constructor (default: globalThis.WebSocket). */
  WebSocket?: typeof WebSocket;
  /** How long to wait for the welcome (default 10 s). */
  joinTimeoutMs?: number;
}

export interface TrackerEvents {
  neighbours: { add: Neighbour[]; remove: string[] };
  signal: { from: string; data: SignalData };
  policy: Policy;
  stripe: Stripe;
  banned: { reason: string };
  /** An error message from the tracker that does not end the connection. */
  error: { code: string; message: string };
  /** The connection ended (after leave, a ban, a refusal or a network failure). */
  close: { code: number; reason: string };
}

/** TrackerError: the tracker refused the join or the connection failed before welcome. */
export class TrackerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`tracker: ${code}: ${message}`);
    this.name = "TrackerError";
  }
}

/**
 * TrackerClient is one connection to the tracker, for one swarm. join() resolves with the
 * welcome; afterwards events report what the tracker sends. A closed client stays closed:
 * reconnecting is a new client (and a new peer id).
 */
export class TrackerClient extends Emitter<TrackerEvents> {
  private ws?: WebSocket;
  private closed = false;
  /** The id the tracker assigned, set once welcomed. */
  peerId = "";
  policy: Policy = { p2p_enabled: true, max_upload: 0, neighbours: 0 };
  stripe: Stripe = { index: 0, count: 0 };

  constructor(private readonly opts: TrackerOptions) {
    super();
  }

  /** join connects, sends join and waits for the welcome. */
  join(): Promise<Welcome> {
    const WS = this.opts.WebSocket ?? globalThis.WebSocket;
    if (!WS) return Promise.reject(new TrackerError("unsupported", "no WebSocket"));
    return new Promise<Welcome>((resolve, reject) => {
      let welcomed = false;
      const fail = (code: string, msg: string) => {
        if (welcomed) return;
        welcomed = true; // settle once
        clearTimeout(timer);
        this.close();
        reject(new TrackerError(code, msg));
      };
      const timer = setTimeout(() => fail("timeout", "no welcome"), this.opts.joinTimeoutMs ?? 10000);
      let ws: WebSocket;
      try {
        ws = new WS(this.opts.url);
      } catch (e) {
        fail("connect", (e as Error).message);
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        this.send({
          type: "join",
          stream: this.opts.stream,
          rendition: this.opts.rendition,
          upload_capacity: Math.max(0, Math.floor(this.opts.uploadCapacity ?? 0)),
          region: this.opts.region,
          token: this.opts.token,
          position: this.opts.position,
        });
      };
      ws.onmessage = (ev: MessageEvent) => {
        if (typeof ev.data !== "string") return; // the tracker sends text only
        let m: ServerMessage;
        try {
          m = decodeServer(ev.data);
        } catch (e) {
          // Unknown types are a newer tracker's additions: ignore them. Anything else
          // is a broken tracker; ignore it too rather than tear the session down.
          if (!(e instanceof TrackerMessageError)) throw e;
          return;
        }
        if (!welcomed) {
          if (m.type === "welcome") {
            welcomed = true;
            clearTimeout(timer);
            this.peerId = m.peer_id;
            this.policy = m.policy;
            this.stripe = m.stripe ?? { index: 0, count: 0 };
            resolve(m);
          } else if (m.type === "error") {
            fail(m.code, m.message);
          } else if (m.type === "banned") {
            fail("banned", m.reason);
          }
          return;
        }
        this.dispatch(m);
      };
      ws.onerror = () => fail("connect", `cannot connect to ${this.opts.url}`);
      ws.onclose = (ev: CloseEvent) => {
        fail("closed", `connection closed (${ev.code}) before welcome`);
        this.ws = undefined;
        if (!this.closed) {
          this.closed = true;
          this.emit("close", { code: ev.code, reason: ev.reason });
        }
      };
    });
  }

  private dispatch(m: ServerMessage): void {
    switch (m.type) {
      case "neighbours":
        this.emit("neighbours", { add: m.add ?? [], remove: m.remove ?? [] });
        break;
      case "signal":
        this.emit("signal", { from: m.from!, data: m.data });
        break;
      case "policy":
        this.policy = { p2p_enabled: m.p2p_enabled, max_upload: m.max_upload, neighbours: m.neighbours };
        this.emit("policy", this.policy);
        break;
      case "stripe":
        this.stripe = { index: m.index, count: m.count };
        this.emit("stripe", this.stripe);
        break;
      case "banned":
        this.emit("banned", { reason: m.reason });
        break;
      case "error":
        this.emit("error", { code: m.code, message: m.message });
        break;
      case "welcome":
        break; // a second welcome cannot happen; ignore
    }
  }

  private send(m: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(encode(m));
    return true;
  }

  /** signal relays WebRTC signalling to neighbour `to`. */
  signal(to: string, data: SignalData): boolean {
    return this.send({ type: "signal", to, data });
  }

  /** stats sends the cumulative counters since join. */
  stats(s: { bytesCdn: number; bytesP2P: number; bytesUp: number; stalls: number; playhead?: number; peers?: number; startupMs?: number; stalledMs?: number; position?: number }): boolean {
    return this.send({
      type: "stats",
      bytes_cdn: Math.floor(s.bytesCdn),
      bytes_p2p: Math.floor(s.bytesP2P),
      bytes_up: Math.floor(s.bytesUp),
      stalls: Math.floor(s.stalls),
      playhead: s.playhead !== undefined && Number.isFinite(s.playhead) && s.playhead > 0 ? s.playhead : undefined,
      peers: s.peers,
      startup_ms: s.startupMs !== undefined && s.startupMs > 0 ? Math.max(1, Math.floor(s.startupMs)) : undefined,
      stalled_ms: s.stalledMs !== undefined && s.stalledMs > 0 ? Math.floor(s.stalledMs) : undefined,
      position: s.position !== undefined && Number.isFinite(s.position) ? Math.max(0, s.position) : undefined,
    });
  }

  /** report accuses neighbour `peer` of a piece that failed verification. */
  report(peer: string, segment: string, piece: number, reason = "hash_mismatch"): boolean {
    return this.send({ type: "report", peer, segment, piece, reason });
  }

  /** leave leaves the swarm (the tracker closes the connection). */
  leave(): void {
    if (!this.send({ type: "leave" })) this.close();
  }

  /** close drops the connection at once. */
  close(): void {
    const ws = this.ws;
    if (ws && ws.readyState <= 1) ws.close(1000);
  }

  get connected(): boolean {
    return !!this.ws && this.ws.readyState === 1 && this.peerId !== "";
  }
}
