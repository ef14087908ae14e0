package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProbesAndShutdown(t *testing.T) {
	ready := errors.New("warming up")
	s, err := Listen(Config{Ready: func() error { return ready }}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, port, _ := net.SplitHostPort(s.Addr().String()); port == "0" {
		t.Fatalf("port 0 not resolved: %s", s.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	c := http.DefaultClient
	if code, body := get(t, c, s.URL()+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	if code, _ := get(t, c, s.URL()+"/readyz"); code != 503 {
		t.Fatalf("readyz while not ready: %d", code)
	}
	ready = nil
	if code, _ := get(t, c, s.URL()+"/readyz"); code != 200 {
		t.Fatalf("readyz when ready: %d", code)
	}
	if code, body := get(t, c, s.URL()+"/x"); code != 200 || body != "app" {
		t.Fatalf("handler: %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := c.Get(s.URL() + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := selfSigned(t, certFile, keyFile)
	s, err := Listen(Config{TLSCert: certFile, TLSKey: keyFile}, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if code, _ := get(t, c, s.URL()+"/healthz"); code != 200 {
		t.Fatalf("healthz over TLS: %d", code)
	}
	if _, err := Listen(Config{TLSCert: certFile}, http.NotFoundHandler()); err == nil {
		t.Fatal("cert without key accepted")
	}
}

func selfSigned(t *testing.T, certFile, keyFile string) *x509.CertPool {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestSlowLoris: a client trickling its headers byte by byte, or one that connects
// and sends nothing, is cut off after ReadHeaderTimeout; an idle keep-alive
// connection after IdleTimeout; clients sending normally meanwhile are served.
func TestSlowLoris(t *testing.T) {
	const hdr = 300 * time.Millisecond
	s, err := Listen(Config{ReadHeaderTimeout: hdr, IdleTimeout: hdr}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app")
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	// cutOff reports how long the server took to close c (reads until EOF/error).
	cutOff := func(c net.Conn, start time.Time) time.Duration {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c)
		return time.Since(start)
	}
	trickle, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	silent, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + string(bytes.Repeat([]byte("a"), 200)) + "\r\n\r\n") {
			if _, err := trickle.Write([]byte{b}); err != nil {
				return // cut off
			}
			time.Sleep(20 * time.Millisecond) // 200+ bytes: ~5 s if never cut
		}
	}()
	silentDone := make(chan time.Duration, 1)
	go func() { silentDone <- cutOff(silent, start) }()

	// Good clients, meanwhile: fresh connections served at once.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 5 {
		if code, body := get(t, c, s.URL()+"/x"); code != 200 || body != "app" {
			t.Fatalf("good client: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := cutOff(trickle, start); d > 2*time.Second {
		t.Fatalf("trickling client held its connection %v (header timeout %v)", d, hdr)
	}
	if d := <-silentDone; d > 2*time.Second {
		t.Fatalf("silent client held its connection %v", d)
	}

	// A keep-alive connection left idle after its response is closed.
	idle, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	start = time.Now()
	if d := cutOff(idle, start); d > 2*time.Second || d < hdr/2 {
		t.Fatalf("idle keep-alive connection closed after %v, want about %v", d, hdr)
	}
}
