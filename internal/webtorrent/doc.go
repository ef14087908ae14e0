// Package webtorrent is the WebTorrent WebSocket tracker protocol as bittorrent-tracker
// 11.x speaks it (docs/webtorrent.md): the announce and scrape requests that WebTorrent,
// p2p-media-loader and PeerTube-style players send, the server's answers, forwarded
// offers and answers, and the "failure reason" replies. Info hashes, peer ids and offer
// ids are 20-character binary strings (one byte per UTF-16 code unit, as the library's
// latin1 conversion does); this package turns them into 20-byte Go strings and back and
// writes every message byte for byte as the library's JSON.stringify does.
package webtorrent
