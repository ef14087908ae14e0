// The baseline for bench/tracker/run.sh: bittorrent-tracker's WebSocket server alone.
// Usage: node bt-server.mjs PORT
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2] || 0)
const server = new Server({ udp: false, http: false, ws: true, stats: false })
server.on('error', (err) => { console.error('error', err.message) })
server.on('warning', () => {})
server.listen(port, '127.0.0.1', () => {
  console.log('listening on 127.0.0.1:' + server.ws.address().port)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
process.on('SIGINT', () => server.close(() => process.exit(0)))
