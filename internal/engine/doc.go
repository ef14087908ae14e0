// Package engine is the viewer engine's core: every decision of a shoal peer
// (the live window, the player model, neighbours and their protocol state,
// requests in flight, the upload line and its push-back, seeding through the
// scheduler, playlist polling) with no goroutines, no clock and no I/O.
//
// The caller drives it as etcd raft's RawNode is driven: Step hands it an
// event with the time it happened (a playlist, a record, edge bytes, a frame
// from a neighbour, a link up or down, a tracker message, a timer), Ready runs
// the decisions and hands back actions (send a frame, fetch a Range from the
// edge, fetch a record or the playlist, send a report to the tracker, deliver
// a verified segment), and Wake says when to call again with no new event.
// internal/peer runs it on goroutines and a clock for `shoal peer`; the
// virtual-time bench (internal/bench/virtual) runs the same core as discrete
// events.
package engine
