// Command shoal is the live video delivery engine: origin, edge, tracker and peers in one
// binary. Each subcommand wires flags to an internal package and runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoal-cdn/shoal/internal/config"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{"up", "origin + edge + tracker with the demo stream, on one port", runUp},
	{"origin", "ingest live HLS (ffmpeg PUT, pull relay, demo) and publish it signed", runOrigin},
	{"edge", "caching HLS reverse proxy in front of an origin (a CDN node)", runEdge},
	{"tracker", "WebSocket signalling for peer swarms", runTracker},
	{"peer", "a viewer peer: edge + swarm, with a local HLS proxy for any player", runPeer},
	{"turn", "TURN relay, so viewers' addresses stay hidden from each other", runTurn},
	{"bench", "swarm bench: CDN-only vs hybrid, side by side, with the real peer engine", runBench},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "shoal: live video delivery, CDN plus peer-to-peer.\n\nUsage: shoal COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'shoal COMMAND --help' for a command's flags. Every flag can also be set by an\nenvironment variable: --play-secret is SHOAL_PLAY_SECRET. Flags win over the environment,\nwhich wins over the --config file (YAML, docs/config.md).\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage(os.Stdout)
		return
	}
	name, args := os.Args[1], os.Args[2:]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := c.run(ctx, args, os.Stdout)
		stop()
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, config.ErrPrinted) {
			return
		}
		if err != nil {
			slog.Error("shoal "+name, "err", err)
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "shoal: unknown command %q\n\n", name)
	usage(os.Stderr)
	os.Exit(2)
}
