package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// originTakedown returns a tracker OnTakedown hook that calls the origin's
// POST/DELETE /takedown/{stream} (docs/admin.md) with its publish token.
func originTakedown(originURL, publishToken string) func(context.Context, string, bool) error {
	return remoteTakedown("origin", originURL, publishToken)
}

// edgeTakedown returns a hook that calls an edge's POST/DELETE /takedown/{stream}
// with the admin token: the edge answers 410 and drops its cached objects at once.
func edgeTakedown(edgeURL, adminToken string) func(context.Context, string, bool) error {
	return remoteTakedown("edge "+edgeURL, edgeURL, adminToken)
}

// allTakedowns runs every hook (in parallel: one slow edge must not delay the
// others) and joins their errors.
func allTakedowns(hooks []func(context.Context, string, bool) error) func(context.Context, string, bool) error {
	return func(ctx context.Context, stream string, down bool) error {
		errs := make([]error, len(hooks))
		var wg sync.WaitGroup
		for i, h := range hooks {
			wg.Go(func() { errs[i] = h(ctx, stream, down) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

func remoteTakedown(what, baseURL, token string) func(context.Context, string, bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	base := strings.TrimRight(baseURL, "/")
	return func(ctx context.Context, stream string, down bool) error {
		method := http.MethodPost
		if !down {
			method = http.MethodDelete
		}
		req, err := http.NewRequestWithContext(ctx, method, base+"/takedown/"+stream, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s takedown: %w", what, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("%s takedown: %s: %s", what, resp.Status, strings.TrimSpace(string(b)))
		}
		return nil
	}
}

// localTakedown is the hook of `shoal up`: the origin and the edge are in this process.
func localTakedown(origin, edge interface{ Takedown(string, bool) error }) func(context.Context, string, bool) error {
	return func(_ context.Context, stream string, down bool) error {
		return errors.Join(origin.Takedown(stream, down), edge.Takedown(stream, down))
	}
}
