// Tracker protocol messages (docs/tracker.md, internal/tracker/message.go): one JSON
// object per WebSocket text message. encode produces the canonical bytes the Go tracker
// produces (its struct field order, omitempty, Go's escaping of <, > and &), so the
// golden files in testdata/tracker round-trip exactly; decode validates like Go's
// DecodeClient / DecodeServer.

export interface Policy {
  p2p_enabled: boolean;
  max_upload: number;
  neighbours: number;
}
export interface Neighbour {
  peer_id: string;
  initiator: boolean;
}
export interface Stripe {
  index: number;
  count: number;
}
export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}
export interface SignalData {
  type: "offer" | "answer" | "candidate";
  sdp?: string;
  candidate?: IceCandidate;
}

export interface Join {
  type: "join";
  stream: string;
  rendition: string;
  upload_capacity: number;
  region?: string;
  token?: string;
  /** On-demand title: where the viewer starts playing, seconds from its start. */
  position?: number;
}
export interface Signal {
  type: "signal";
  to?: string;
  from?: string;
  data: SignalData;
}
export interface Stats {
  type: "stats";
  bytes_cdn: number;
  bytes_p2p: number;
  bytes_up: number;
  stalls: number;
  playhead?: number;
  peers?: number;
  /** QoE for the operator's console, once playback began: join → playback, time stalled since. */
  startup_ms?: number;
  stalled_ms?: number;
  /** On a title: where the viewer plays now, seconds (after a seek the tracker finds near neighbours). */
  position?: number;
}
export interface Report {
  type: "report";
  peer: string;
  segment: string;
  piece: number;
  reason?: string;
}
export interface Leave {
  type: "leave";
}
export interface Welcome {
  type: "welcome";
  peer_id: string;
  policy: Policy;
  neighbours: Neighbour[];
  /** Seeding assignment; absent (or count 0) = not a seeder. */
  stripe?: Stripe;
  /** The operator's other tracker nodes (ws:// or wss://) to fail over to. */
  trackers?: string[];
  /** The operator's edges (http:// or https://) to fail over to. */
  edges?: string[];
}
export interface Neighbours {
  type: "neighbours";
  add?: Neighbour[];
  remove?: string[];
}
export interface PolicyMsg extends Policy {
  type: "policy";
}
export interface StripeMsg extends Stripe {
  type: "stripe";
}
export interface Banned {
  type: "banned";
  reason: string;
}
export interface ErrorMsg {
  type: "error";
  code: string;
  message: string;
}

export type ClientMessage = Join | Signal | Stats | Report | Leave;
export type ServerMessage = Welcome | Neighbours | Signal | PolicyMsg | StripeMsg | Banned | ErrorMsg;
export type TrackerMessage = ClientMessage | ServerMessage;

/** TrackerMessageError: not JSON, an unknown type or an invalid field (Go: ErrBadMessage). */
export class TrackerMessageError extends Error {
  constructor(
    readonly unknownType: boolean,
    detail: string,
  ) {
    super(`tracker: bad message: ${detail}`);
    this.name = "TrackerMessageError";
  }
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const REGION = /^[A-Za-z0-9_.:/-]{0,64}$/;
/** A title position's bound: 1,000 hours, in seconds (Go: signalling.MaxPosition). */
const MAX_POSITION = 3.6e6;
export const validName = (s: string): boolean => NAME.test(s);
export const validPeerId = validName;

// Field kinds: how a member is typed, encoded and checked.
type Kind = "str" | "uint" | "int" | "num" | "bool" | "policy" | "neighbours" | "strs" | "data" | "stripe" | "u16";
// [key, kind, omitempty]
type Field = [string, Kind, boolean];

const policyFields: Field[] = [
  ["p2p_enabled", "bool", false],
  ["max_upload", "int", false],
  ["neighbours", "int", false],
];
const stripeFields: Field[] = [
  ["index", "int", false],
  ["count", "int", false],
];

const layouts: Record<string, Field[]> = {
  join: [
    ["stream", "str", false],
    ["rendition", "str", false],
    ["upload_capacity", "int", false],
    ["region", "str", true],
    ["token", "str", true],
    ["position", "num", true],
  ],
  signal: [
    ["to", "str", true],
    ["from", "str", true],
    ["data", "data", false],
  ],
  stats: [
    ["bytes_cdn", "uint", false],
    ["bytes_p2p", "uint", false],
    ["bytes_up", "uint", false],
    ["stalls", "uint", false],
    ["playhead", "num", true],
    ["peers", "int", true],
    ["startup_ms", "uint", true],
    ["stalled_ms", "uint", true],
    ["position", "num", true],
  ],
  report: [
    ["peer", "str", false],
    ["segment", "str", false],
    ["piece", "int", false],
    ["reason", "str", true],
  ],
  leave: [],
  welcome: [
    ["peer_id", "str", false],
    ["policy", "policy", false],
    ["neighbours", "neighbours", false],
    ["stripe", "stripe", true],
    ["trackers", "strs", true],
    ["edges", "strs", true],
  ],
  neighbours: [
    ["add", "neighbours", true],
    ["remove", "strs", true],
  ],
  policy: policyFields,
  stripe: stripeFields,
  banned: [["reason", "str", false]],
  error: [
    ["code", "str", false],
    ["message", "str", false],
  ],
};

const clientTypes = new Set(["join", "signal", "stats", "report", "leave"]);
const serverTypes = new Set(["welcome", "neighbours", "signal", "policy", "stripe", "banned", "error"]);

// jsonString escapes like Go's encoding/json: JSON.stringify plus <, >, &, U+2028/9.
function jsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

function isEmpty(v: unknown, kind: Kind): boolean {
  if (v === undefined || v === null) return true;
  switch (kind) {
    case "str":
      return v === "";
    case "uint":
    case "int":
    case "num":
      return v === 0;
    case "bool":
      return v === false;
    case "neighbours":
    case "strs":
      return (v as unknown[]).length === 0;
    case "stripe":
      return (v as Stripe).count === 0 && (v as Stripe).index === 0; // Go omitzero
    default:
      return false;
  }
}

function encodeObject(o: Record<string, unknown>, fields: Field[], head: string): string {
  const parts: string[] = head ? [head] : [];
  for (const [k, kind, omit] of fields) {
    const v = o[k];
    if (omit && isEmpty(v, kind)) continue;
    parts.push(jsonString(k) + ":" + encodeValue(v, kind));
  }
  return "{" + parts.join(",") + "}";
}

function encodeNumber(v: unknown): string {
  const n = (v ?? 0) as number;
  if (!Number.isFinite(n)) throw new TrackerMessageError(false, `number ${n}`);
  return String(n);
}

function encodeCandidate(c: IceCandidate): string {
  const parts = [`"candidate":${jsonString(c.candidate ?? "")}`];
  if (c.sdpMid != null) parts.push(`"sdpMid":${jsonString(c.sdpMid)}`);
  if (c.sdpMLineIndex != null) parts.push(`"sdpMLineIndex":${encodeNumber(c.sdpMLineIndex)}`);
  if (c.usernameFragment != null) parts.push(`"usernameFragment":${jsonString(c.usernameFragment)}`);
  return "{" + parts.join(",") + "}";
}

function encodeValue(v: unknown, kind: Kind): string {
  switch (kind) {
    case "str":
      return jsonString((v ?? "") as string);
    case "uint":
    case "int":
    case "num":
    case "u16":
      return encodeNumber(v);
    case "bool":
      return v ? "true" : "false";
    case "policy":
      return encodeObject((v ?? {}) as Record<string, unknown>, policyFields, "");
    case "stripe":
      return encodeObject((v ?? {}) as Record<string, unknown>, stripeFields, "");
    case "neighbours":
      return "[" + ((v ?? []) as Neighbour[]).map((n) => `{"peer_id":${jsonString(n.peer_id)},"initiator":${n.initiator ? "true" : "false"}}`).join(",") + "]";
    case "strs":
      return "[" + ((v ?? []) as string[]).map(jsonString).join(",") + "]";
    case "data": {
      const d = v as SignalData;
      const parts = [`"type":${jsonString(d.type)}`];
      if (d.sdp) parts.push(`"sdp":${jsonString(d.sdp)}`);
      if (d.candidate) parts.push(`"candidate":${encodeCandidate(d.candidate)}`);
      return "{" + parts.join(",") + "}";
    }
  }
}

/** encode renders m in canonical form ("type" first, then the Go struct's fields). */
export function encode(m: TrackerMessage): string {
  const fields = layouts[m.type];
  if (!fields) throw new TrackerMessageError(true, `unknown type ${jsonString(m.type)}`);
  return encodeObject(m as unknown as Record<string, unknown>, fields, `"type":${jsonString(m.type)}`);
}

function bad(detail: string): never {
  throw new TrackerMessageError(false, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// readValue converts one JSON member as Go's json.Unmarshal would into the field's Go
// type: null or absent → zero value; a wrong JSON type, a fraction or a negative number
// for an unsigned field → error.
function readValue(v: unknown, kind: Kind, key: string): unknown {
  if (v === undefined || v === null) {
    switch (kind) {
      case "str":
        return "";
      case "uint":
      case "int":
      case "num":
      case "u16":
        return 0;
      case "bool":
        return false;
      case "policy":
        return { p2p_enabled: false, max_upload: 0, neighbours: 0 };
      case "stripe":
        return { index: 0, count: 0 };
      case "neighbours":
      case "strs":
        return [];
      case "data":
        return { type: "" };
    }
  }
  switch (kind) {
    case "str":
      if (typeof v !== "string") bad(`${key}: want a string`);
      return v;
    case "uint":
    case "int":
    case "u16":
      if (typeof v !== "number" || !Number.isInteger(v)) bad(`${key}: want an integer`);
      if (kind !== "int" && v < 0) bad(`${key}: want an unsigned integer`);
      if (kind === "u16" && v > 0xffff) bad(`${key}: out of range`);
      return v;
    case "num":
      if (typeof v !== "number") bad(`${key}: want a number`);
      return v;
    case "bool":
      if (typeof v !== "boolean") bad(`${key}: want a boolean`);
      return v;
    case "policy":
    case "stripe":
      if (!isObject(v)) bad(`${key}: want an object`);
      return readFields(v, kind === "policy" ? policyFields : stripeFields);
    case "neighbours":
      if (!Array.isArray(v)) bad(`${key}: want an array`);
      return v.map((n) => {
        if (!isObject(n)) bad(`${key}: want objects`);
        return readFields(n, [
          ["peer_id", "str", false],
          ["initiator", "bool", false],
        ]);
      });
    case "strs":
      if (!Array.isArray(v)) bad(`${key}: want an array`);
      return v.map((s) => readValue(s, "str", key));
    case "data": {
      if (!isObject(v)) bad(`${key}: want an object`);
      const d = readFields(v, [
        ["type", "str", false],
        ["sdp", "str", false],
      ]) as Record<string, unknown>;
      const c = v.candidate;
      if (c !== undefined && c !== null) {
        if (!isObject(c)) bad("data.candidate: want an object");
        const cand: IceCandidate = { candidate: readValue(c.candidate, "str", "candidate") as string };
        if (c.sdpMid != null) cand.sdpMid = readValue(c.sdpMid, "str", "sdpMid") as string;
        if (c.sdpMLineIndex != null) cand.sdpMLineIndex = readValue(c.sdpMLineIndex, "u16", "sdpMLineIndex") as number;
        if (c.usernameFragment != null) cand.usernameFragment = readValue(c.usernameFragment, "str", "usernameFragment") as string;
        d.candidate = cand;
      }
      if (d.sdp === "") delete d.sdp;
      return d;
    }
  }
}

function readFields(o: Record<string, unknown>, fields: Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, kind, omit] of fields) {
    const v = readValue(o[k], kind, k);
    if (omit && isEmpty(v, kind)) continue;
    out[k] = v;
  }
  return out;
}

function validateStripe(s: Stripe): void {
  if (s.count < 0 || s.count > 1024) bad(`stripe count ${s.count}`);
  if (s.count === 0 && s.index !== 0) bad(`stripe index ${s.index} without a count`);
  if (s.count > 0 && (s.index < 0 || s.index >= s.count)) bad(`stripe index ${s.index} of ${s.count}`);
}

function validateNeighbours(ns: Neighbour[] | undefined): void {
  for (const n of ns ?? []) if (!validPeerId(n.peer_id)) bad(`bad neighbour peer id ${jsonString(n.peer_id)}`);
}

/** checkPosition: absent, or a title position in [0, MAX_POSITION] (NaN is not). */
function checkPosition(p: number | undefined): void {
  if (p !== undefined && !(p >= 0 && p <= MAX_POSITION)) bad(`position ${p}`);
}

function validate(m: TrackerMessage, fromClient: boolean): void {
  switch (m.type) {
    case "join":
      if (!validName(m.stream)) bad(`stream ${jsonString(m.stream)}`);
      if (!validName(m.rendition)) bad(`rendition ${jsonString(m.rendition)}`);
      if (m.upload_capacity < 0 || m.upload_capacity > 1e13) bad(`upload_capacity ${m.upload_capacity}`);
      if (!REGION.test(m.region ?? "")) bad("region");
      if ((m.token ?? "").length > 1024) bad("token too long");
      checkPosition(m.position);
      break;
    case "signal": {
      if (fromClient && !validPeerId(m.to ?? "")) bad(`bad "to" peer id`);
      if (!fromClient && !validPeerId(m.from ?? "")) bad(`bad "from" peer id`);
      const d = m.data;
      if (d.type === "offer" || d.type === "answer") {
        if (!d.sdp) bad(`${d.type} without sdp`);
        if (d.candidate) bad(`${d.type} must not carry a candidate`);
      } else if (d.type === "candidate") {
        if (!d.candidate) bad(`candidate without "candidate" object`);
        if (d.sdp) bad("candidate must not carry sdp");
      } else bad(`data.type ${jsonString(d.type)}`);
      break;
    }
    case "stats":
      if (!Number.isFinite(m.playhead ?? 0) || (m.playhead ?? 0) < 0) bad(`playhead ${m.playhead}`);
      if ((m.peers ?? 0) < 0) bad(`peers ${m.peers}`);
      checkPosition(m.position);
      break;
    case "report":
      if (!validPeerId(m.peer)) bad(`bad "peer" id`);
      if (m.segment === "" || m.segment.length > 128) bad("segment must be 1..128 bytes");
      if (m.piece < 0) bad(`piece ${m.piece}`);
      if ((m.reason ?? "").length > 128) bad("reason too long");
      break;
    case "welcome":
      if (!validPeerId(m.peer_id)) bad(`bad peer_id`);
      validateStripe(m.stripe ?? { index: 0, count: 0 });
      validateNeighbours(m.neighbours);
      validateURLs("trackers", m.trackers, ["ws://", "wss://"]);
      validateURLs("edges", m.edges, ["http://", "https://"]);
      break;
    case "neighbours":
      validateNeighbours(m.add);
      for (const id of m.remove ?? []) if (!validPeerId(id)) bad(`bad removed peer id`);
      break;
    case "policy":
      if (m.max_upload < 0 || m.neighbours < 0) bad("max_upload and neighbours must be non-negative");
      break;
    case "stripe":
      validateStripe(m);
      break;
    case "error":
      if (!m.code) bad("missing code");
      break;
  }
}

/** Bounds of a welcome's failover lists (as internal/signalling). */
export const maxWelcomeURLs = 16;
export const maxURLBytes = 512;

function validateURLs(what: string, urls: string[] | undefined, schemes: string[]): void {
  if (!urls) return;
  if (urls.length > maxWelcomeURLs) bad(`${urls.length} ${what}, at most ${maxWelcomeURLs}`);
  for (const u of urls) {
    const ok = schemes.some((sc) => u.startsWith(sc) && u.length > sc.length);
    if (!ok || new TextEncoder().encode(u).length > maxURLBytes) bad(`bad ${what} URL ${jsonString(u)}`);
  }
}

function decodeDir(text: string, types: Set<string>, fromClient: boolean): TrackerMessage {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    bad((e as Error).message);
  }
  if (!isObject(o)) bad("not a JSON object");
  const typ = o.type;
  if (typeof typ !== "string" || typ === "") bad(`missing "type"`);
  if (!types.has(typ)) throw new TrackerMessageError(true, `unknown ${fromClient ? "client" : "server"} message type ${jsonString(typ)}`);
  const m = { type: typ, ...readFields(o, layouts[typ]) } as TrackerMessage;
  if (m.type === "welcome" && !m.neighbours) m.neighbours = [];
  validate(m, fromClient);
  return m;
}

/** decodeServer parses and validates one tracker → client message. */
export function decodeServer(text: string): ServerMessage {
  return decodeDir(text, serverTypes, false) as ServerMessage;
}

/** decodeClient parses and validates one client → tracker message. */
export function decodeClient(text: string): ClientMessage {
  return decodeDir(text, clientTypes, true) as ClientMessage;
}
