import assert from "node:assert/strict";
import { test } from "node:test";
import { uploadConsent } from "../src/consent.js";
import type { Peer } from "../src/peer.js";
import { Swarm } from "../src/swarm.js";

test("consent: the page's opt-out, data saver and cellular stop uploads; the operator's cap still applies", () => {
  assert.deepEqual(uploadConsent({}), { upload: true });
  assert.deepEqual(uploadConsent({}, { type: "wifi", saveData: false }), { upload: true });
  assert.deepEqual(uploadConsent({ upload: false }, { type: "ethernet" }), { upload: false, reason: "page opted out" });
  assert.deepEqual(uploadConsent({}, { saveData: true }), { upload: false, reason: "data saver on" });
  assert.deepEqual(uploadConsent({}, { type: "cellular" }), { upload: false, reason: "cellular connection" });
  assert.deepEqual(uploadConsent({ uploadOnMetered: true }, { type: "cellular", saveData: true }), { upload: true });
  assert.deepEqual(uploadConsent({ upload: false, uploadOnMetered: true }, { type: "wifi" }), { upload: false, reason: "page opted out" });
});

test("consent: a swarm without consent declares no upload and refuses to upload", async () => {
  let allowed = false;
  let sent: string | undefined;
  class FakeWS {
    static OPEN = 1;
    readyState = 0;
    onopen?: () => void;
    onmessage?: (e: { data: string }) => void;
    onclose?: () => void;
    onerror?: () => void;
    constructor() {
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.();
      }, 0);
    }
    send(s: string) {
      sent ??= s;
    }
    close() {}
    addEventListener(ev: string, f: (e: unknown) => void) {
      (this as unknown as Record<string, unknown>)["on" + ev] = f;
    }
    removeEventListener() {}
  }
  const swarm = new Swarm({
    trackerUrl: "ws://127.0.0.1:1/tracker",
    stream: "demo",
    rendition: "index",
    uploadCap: 8e6,
    mayUpload: () => allowed,
    key: {} as CryptoKey,
    subtle: {} as SubtleCrypto,
    WebSocket: FakeWS as unknown as typeof WebSocket,
    fetch: (() => Promise.reject(new Error("no network in this test"))) as typeof fetch,
  });
  try {
    void swarm.start();
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(sent, "no join sent");
    assert.equal(JSON.parse(sent!).upload_capacity ?? 0, 0, `join declares no upload: ${sent}`);
    assert.equal(swarm.uploadKbps(), 0, "no consent: cap 0");
    // A request for a piece we hold: the upload line takes it only with consent.
    const asker = { send() {}, open: false, dc: { bufferedAmount: 0 } } as unknown as Peer;
    const job = (index: number) => [{ seg: { epoch: "e", seq: 1n }, index, size: 1000, seeded: false }];
    assert.equal(swarm.enqueueUpload(asker, job(0)), 0, "no consent: nothing uploaded");
    allowed = true;
    assert.equal(swarm.uploadKbps(), 8000, "consent given: our cap");
    assert.equal(swarm.enqueueUpload(asker, job(1)), 1, "consent given: uploads");
    allowed = false;
    assert.equal(swarm.enqueueUpload(asker, job(2)), 0, "consent withdrawn (e.g. now cellular): stops at once");
  } finally {
    swarm.destroy();
  }
});
