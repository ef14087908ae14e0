// Package takedown is the set of streams an operator took down: the origin and the
// edges consult it on every request and answer 410 Gone for its streams.
package takedown

import (
	"errors"
	"sync"
)

// MaxStreams bounds the set, like every operator-fed table.
const MaxStreams = 10000

// ErrFull: the set holds MaxStreams streams already.
var ErrFull = errors.New("takedown: too many streams taken down")

// Set is a concurrency-safe set of stream names. Its zero value is empty and ready.
type Set struct {
	mu sync.RWMutex
	m  map[string]struct{}
}

// Set takes stream down (down) or restores it.
func (s *Set) Set(stream string, down bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !down {
		delete(s.m, stream)
		return nil
	}
	if s.m == nil {
		s.m = make(map[string]struct{})
	}
	if _, ok := s.m[stream]; !ok && len(s.m) >= MaxStreams {
		return ErrFull
	}
	s.m[stream] = struct{}{}
	return nil
}

// Down reports whether stream is taken down.
func (s *Set) Down(stream string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.m[stream]
	return ok
}
