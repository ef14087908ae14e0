// Package clusterwire is the protocol between the tracker nodes of one cluster, carried
// by NATS (docs/tracker.md "State and clustering"): the subjects, every message as a
// JSON object, and decoders that validate what they accept. It does no I/O.
package clusterwire
