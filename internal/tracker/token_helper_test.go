package tracker

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/token"
)

func tokenFor(secret []byte, stream string, ttl time.Duration) string {
	return token.Sign(secret, stream, time.Now().Add(ttl))
}
