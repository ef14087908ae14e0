// Package wire encodes and decodes the peer↔peer protocol that shoal peers speak over
// one WebRTC data channel per swarm. The specification is docs/wire.md; the golden
// vectors in testdata/wire/vectors.json are shared byte for byte with the TypeScript SDK.
//
// Each data-channel message is exactly one frame: a version byte, a type byte and a
// type-specific body. SCTP keeps message boundaries, so there is no length prefix.
// The package is pure: no I/O, no goroutines, no global state.
package wire
