package webrtc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogFactory routes pion's logs to an slog.Logger (pion's default prints to
// stdout, which a library must not do). Pion's warnings and errors are about
// single connections, so they are logged one level down.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("pion", scope)}
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) at(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l slogLogger) atf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

const levelTrace = slog.LevelDebug - 4

func (l slogLogger) Trace(msg string)                  { l.at(levelTrace, msg) }
func (l slogLogger) Tracef(format string, args ...any) { l.atf(levelTrace, format, args...) }
func (l slogLogger) Debug(msg string)                  { l.at(levelTrace, msg) }
func (l slogLogger) Debugf(format string, args ...any) { l.atf(levelTrace, format, args...) }
func (l slogLogger) Info(msg string)                   { l.at(slog.LevelDebug, msg) }
func (l slogLogger) Infof(format string, args ...any)  { l.atf(slog.LevelDebug, format, args...) }
func (l slogLogger) Warn(msg string)                   { l.at(slog.LevelInfo, msg) }
func (l slogLogger) Warnf(format string, args ...any)  { l.atf(slog.LevelInfo, format, args...) }
func (l slogLogger) Error(msg string)                  { l.at(slog.LevelWarn, msg) }
func (l slogLogger) Errorf(format string, args ...any) { l.atf(slog.LevelWarn, format, args...) }
