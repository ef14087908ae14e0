// Package token signs and checks HMAC tokens with an expiry, bound to one stream.
//
// A token is "STREAM.EXPIRY.SIG": STREAM is the stream name (or "*" for every stream),
// EXPIRY the Unix time in seconds after which it is refused, and SIG the unpadded
// base64url HMAC-SHA256 of "STREAM\nEXPIRY" under the shared secret. Viewers present
// tokens to edges and the tracker; encoders present them to the origin.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors returned by Verify.
var (
	ErrMissing      = errors.New("token: missing")
	ErrMalformed    = errors.New("token: malformed")
	ErrExpired      = errors.New("token: expired")
	ErrBadSignature = errors.New("token: bad signature")
	ErrWrongStream  = errors.New("token: not valid for this stream")
)

// Any is the stream name of a token valid for every stream.
const Any = "*"

// Sign returns a token granting access to stream until exp.
func Sign(secret []byte, stream string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return stream + "." + e + "." + mac(secret, stream, e)
}

// Verify checks that tok is a valid, unexpired token for stream at time now.
func Verify(secret []byte, stream, tok string, now time.Time) error {
	if tok == "" {
		return ErrMissing
	}
	// The stream part may not contain '.', so split from the right.
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return ErrMalformed
	}
	j := strings.LastIndexByte(tok[:i], '.')
	if j < 0 {
		return ErrMalformed
	}
	scope, e, sig := tok[:j], tok[j+1:i], tok[i+1:]
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || scope == "" || sig == "" {
		return ErrMalformed
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, scope, e))) {
		return ErrBadSignature
	}
	if now.Unix() > exp {
		return ErrExpired
	}
	if scope != Any && scope != stream {
		return ErrWrongStream
	}
	return nil
}

// FromRequest returns the token a request carries: the "token" query parameter, else an
// "Authorization: Bearer" header, else "".
func FromRequest(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

func mac(secret []byte, stream, exp string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(stream + "\n" + exp))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
