package bench

import (
	"context"
	"log/slog"
)

// vtimeHandler stamps every record with the virtual clock instead of the wall clock,
// so a virtual run's debug log can be read against the run's own times.
type vtimeHandler struct {
	slog.Handler
	q *vqueue
}

func (h vtimeHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = h.q.time()
	return h.Handler.Handle(ctx, r)
}

func (h vtimeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return vtimeHandler{h.Handler.WithAttrs(as), h.q}
}

func (h vtimeHandler) WithGroup(name string) slog.Handler {
	return vtimeHandler{h.Handler.WithGroup(name), h.q}
}
