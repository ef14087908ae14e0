package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// originTakedown returns a tracker OnTakedown hook that calls the origin's
// POST/DELETE /takedown/{stream} (docs/admin.md) with its publish token.
func originTakedown(originURL, publishToken string) func(context.Context, string, bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	base := strings.TrimRight(originURL, "/")
	return func(ctx context.Context, stream string, down bool) error {
		method := http.MethodPost
		if !down {
			method = http.MethodDelete
		}
		req, err := http.NewRequestWithContext(ctx, method, base+"/takedown/"+stream, nil)
		if err != nil {
			return err
		}
		if publishToken != "" {
			req.Header.Set("Authorization", "Bearer "+publishToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("origin takedown: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("origin takedown: %s: %s", resp.Status, strings.TrimSpace(string(b)))
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
