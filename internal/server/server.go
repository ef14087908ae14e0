// Package server runs one http.Handler the way every shoal component needs: on an
// address that may have port 0, with TLS when given a certificate, with /healthz and
// /readyz, and with a graceful shutdown when its context ends.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config describes one server. Its zero value listens on a random loopback port
// without TLS and is always ready.
type Config struct {
	Addr            string        // host:port; "" means 127.0.0.1:0
	TLSCert, TLSKey string        // PEM files; both or neither
	ShutdownTimeout time.Duration // grace for in-flight requests; 0 means 5s
	// Slow-loris bounds: a client must send a request's headers within
	// ReadHeaderTimeout (0 means 10s) and at most MaxHeaderBytes of them (0 means
	// 64 KiB); a keep-alive connection idle for IdleTimeout (0 means 2m) is closed.
	// Bodies are not bounded here (an encoder's PUT may be long): handlers bound them.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// Ready reports whether the server can take traffic (/readyz); nil means always.
	Ready  func() error
	Logger *slog.Logger // nil discards
}

// Server is a listening server. Create it with Listen, then call Serve.
type Server struct {
	cfg Config
	ln  net.Listener
	srv *http.Server
}

// Listen opens the listener, so the actual address is known before serving.
func Listen(cfg Config, h http.Handler) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("server: --tls-cert and --tls-key go together")
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", cfg.Addr, err)
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("server: load TLS key pair: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	}
	s := &Server{cfg: cfg, ln: ln}
	s.srv = &http.Server{
		Handler:           s.withProbes(h),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the base URL of the server, e.g. "http://127.0.0.1:8080".
func (s *Server) URL() string {
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String()
}

// Serve serves until ctx ends, then stops taking connections and waits up to
// ShutdownTimeout for requests in flight.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-errc
	return err
}

// RegisterOnShutdown runs f when Serve begins shutting down (e.g. to close WebSockets,
// which http.Server does not track).
func (s *Server) RegisterOnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }

func (s *Server) withProbes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("ok\n"))
		case "/readyz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if s.cfg.Ready != nil {
				if err := s.cfg.Ready(); err != nil {
					http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
			}
			w.Write([]byte("ready\n"))
		default:
			h.ServeHTTP(w, r)
		}
	})
}
