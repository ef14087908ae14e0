// Writes testdata/webtorrent: client messages as bittorrent-tracker 11.2.3's client
// builds them (its member order, hex2bin ids, JSON.stringify), and the replies the
// real bittorrent-tracker server sends to them, captured over a WebSocket on loopback.
// shoal's tests then require the same bytes from internal/webtorrent and /announce.
// Usage (from bench/tracker, after npm install): node golden.mjs ../../testdata/webtorrent
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Server from 'bittorrent-tracker/server'
import WebSocket from 'ws'

const out = process.argv[2]
if (!out) throw new Error('usage: node golden.mjs OUTDIR')
mkdirSync(join(out, 'invalid'), { recursive: true })
const hex2bin = (h) => Buffer.from(h, 'hex').toString('binary')
const write = (name, s) => writeFileSync(join(out, name), s + '\n')

// p2p-media-loader's ids: an ASCII info hash (base64 of 15 SHA-1 bytes) and "-PM0203-…"
// peer ids; WebTorrent's: binary SHA-1 info hashes. Offer ids are binary (hex2bin of 20
// random bytes) in both, so they exercise the latin1 escapes.
const infoHash = 'Jm9bS0x2YnZqT1kxWkE4'
const binHash = hex2bin('00ff7f80e9200a0d22095c1f7e413bf0c0ffee01')
const peerA = '-PM0203-Ab3dE5fG7hI9'
const peerB = '-WW0208-' + hex2bin('00e9ff0a1b7f22c35c8081fe')
const offerId = hex2bin('13ff00a97f0a225c8e01d2c3b4a5968778695a4b')
const sdp = (o) => ({ type: o, sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Xr4f\r\na=ice-pwd:q3MbZ1vWk8YdT2nLp5sRg7hA\r\na=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n' })

// The client's member order (lib/client/websocket-tracker.js announce, client.js
// _defaultAnnounceOpts and start/stop/complete).
const started = (ih, peer, offers) => ({ numwant: offers.length, uploaded: 0, downloaded: 0, event: 'started', action: 'announce', info_hash: ih, peer_id: peer, offers })
const client = {
  'client-announce-started.json': started(infoHash, peerA, []),
  'client-announce-offers.json': started(infoHash, peerB, [{ offer: sdp('offer'), offer_id: offerId }]),
  'client-announce-answer.json': { action: 'announce', info_hash: infoHash, peer_id: peerA, to_peer_id: peerB, answer: sdp('answer'), offer_id: offerId },
  'client-announce-update.json': { numwant: 5, uploaded: 1048576, downloaded: 3145728, left: 0, action: 'announce', info_hash: infoHash, peer_id: peerA, offers: [] },
  'client-announce-completed.json': { numwant: 50, uploaded: 1048576, downloaded: 4194304, event: 'completed', action: 'announce', info_hash: infoHash, peer_id: peerB },
  'client-announce-stopped.json': { numwant: 50, uploaded: 2097152, downloaded: 4194304, event: 'stopped', action: 'announce', info_hash: infoHash, peer_id: peerA },
  'client-announce-binary.json': started(binHash, peerB, []),
  'client-scrape.json': { action: 'scrape', info_hash: [infoHash, binHash] },
  'client-scrape-all.json': { action: 'scrape' },
}
for (const [name, m] of Object.entries(client)) write(name, JSON.stringify(m))

// Refused: each file's reply is the library's, in invalid/NAME.reply.
const invalid = {
  'short-info-hash.json': { action: 'announce', info_hash: 'too-short', peer_id: peerA },
  'long-info-hash.json': { action: 'announce', info_hash: infoHash + 'x', peer_id: peerA },
  'info-hash-not-string.json': { action: 'announce', info_hash: 12345, peer_id: peerA },
  'bad-peer-id.json': { action: 'announce', info_hash: infoHash, peer_id: 'short' },
  'answer-without-to-peer-id.json': { action: 'announce', info_hash: infoHash, peer_id: peerA, answer: sdp('answer'), offer_id: offerId },
  'unknown-action.json': { action: 'connect', info_hash: infoHash, peer_id: peerA },
  'no-action.json': { info_hash: infoHash, peer_id: peerA },
  'invalid-event.json': { action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'bogus' },
  'scrape-bad-info-hash.json': { action: 'scrape', info_hash: ['short'] },
}
for (const [name, m] of Object.entries(invalid)) write(join('invalid', name), JSON.stringify(m))

const server = new Server({ udp: false, http: false, ws: true, stats: false })
server.on('warning', () => {})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const url = `ws://127.0.0.1:${server.ws.address().port}`
const open = async () => {
  const ws = new WebSocket(url)
  const queue = []
  let wake = null
  ws.on('message', (d) => { queue.push(String(d)); wake?.() })
  await new Promise((r) => ws.once('open', r))
  return {
    send: (m) => ws.send(JSON.stringify(m)),
    next: async () => {
      while (!queue.length) await new Promise((r) => { wake = r; setTimeout(r, 2000) })
      return queue.shift()
    },
    close: () => ws.close(),
  }
}
const a = await open()
const b = await open()
a.send(client['client-announce-started.json'])
write('server-announce.json', await a.next()) // {complete 0, incomplete 1}
b.send(client['client-announce-offers.json'])
write('server-announce-second.json', await b.next()) // incomplete 2
write('server-offer.json', await a.next()) // B's offer, forwarded to A
a.send(client['client-announce-answer.json'])
write('server-answer.json', await b.next()) // A's answer, forwarded to B (A gets nothing)
a.send(client['client-announce-update.json'])
write('server-announce-update.json', await a.next()) // left 0: A complete
b.send(client['client-announce-completed.json'])
write('server-announce-completed.json', await b.next())
b.send(client['client-announce-binary.json'])
write('server-announce-binary.json', await b.next())
a.send(client['client-scrape.json'])
write('server-scrape.json', await a.next())
a.send(client['client-announce-stopped.json'])
write('server-announce-stopped.json', await a.next())
for (const [name, m] of Object.entries(invalid)) {
  b.send(m)
  writeFileSync(join(out, 'invalid', name.replace(/\.json$/, '.reply')), (await b.next()) + '\n')
}
a.close()
b.close()
server.close()
process.exit(0)
