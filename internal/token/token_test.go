package token

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	good := Sign(secret, "demo", now.Add(time.Minute))
	tests := []struct {
		name, stream, tok string
		want              error
	}{
		{"valid", "demo", good, nil},
		{"any stream", "other", Sign(secret, Any, now.Add(time.Minute)), nil},
		{"missing", "demo", "", ErrMissing},
		{"expired", "demo", Sign(secret, "demo", now.Add(-time.Second)), ErrExpired},
		{"wrong stream", "other", good, ErrWrongStream},
		{"other secret", "demo", Sign([]byte("nope"), "demo", now.Add(time.Minute)), ErrBadSignature},
		{"tampered expiry", "demo", "demo.9999999999." + good[len(good)-43:], ErrBadSignature},
		{"garbage", "demo", "garbage", ErrMalformed},
		{"no expiry", "demo", "demo..sig", ErrMalformed},
		{"empty scope", "demo", ".1.sig", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(secret, tt.stream, tt.tok, now); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/live/demo/index.m3u8?token=abc", nil)
	if got := FromRequest(r); got != "abc" {
		t.Fatalf("query: got %q", got)
	}
	r = httptest.NewRequest("GET", "/live/demo/index.m3u8", nil)
	r.Header.Set("Authorization", "Bearer xyz")
	if got := FromRequest(r); got != "xyz" {
		t.Fatalf("header: got %q", got)
	}
	r.Header.Del("Authorization")
	if got := FromRequest(r); got != "" {
		t.Fatalf("none: got %q", got)
	}
}
