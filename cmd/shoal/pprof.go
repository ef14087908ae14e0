package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlag adds --pprof ADDR (off by default) and returns a loop that serves the Go
// profiler (/debug/pprof/) on ADDR, apart from the public listener, or nil when unset.
// It is meant for loopback: a heap profile names code paths and a CPU profile costs
// CPU, so nobody but the operator should reach it.
func pprofFlag(fs *flag.FlagSet) func(log *slog.Logger) (func(context.Context) error, error) {
	addr := fs.String("pprof", "", "serve the Go profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty; keep it on loopback)")
	return func(log *slog.Logger) (func(context.Context) error, error) {
		if *addr == "" {
			return nil, nil
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return nil, fmt.Errorf("--pprof: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		log.Info("pprof", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
		return func(ctx context.Context) error {
			go func() {
				<-ctx.Done()
				srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, nil
	}
}
