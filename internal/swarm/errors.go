package swarm

import "errors"

// Sentinel errors. Store implementations return ErrPeerNotFound / ErrPeerExists so the
// shared suite (storetest) can check them; Join refuses with ErrBanned or ErrFull.
var (
	ErrPeerNotFound = errors.New("swarm: peer not found")
	ErrPeerExists   = errors.New("swarm: peer already exists")
	ErrBadConfig    = errors.New("swarm: bad config")
	ErrBanned       = errors.New("swarm: address banned from this swarm")
	ErrFull         = errors.New("swarm: maximum number of swarms reached")
)
