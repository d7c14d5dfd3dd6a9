// Command hlsgate puts access control in front of HLS streams.
//
//	hlsgate [serve] [flags]   run a replica (the default)
//	hlsgate keygen [-id k2]   print a new signing key line
//	hlsgate sign [flags]      mint a playback URL for a user's stream
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/signer"
)

//go:embed schema.sql
var schema string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stderr)
	case "keygen":
		err = keygen(args, stdout, stderr)
	case "sign":
		err = sign(ctx, args, getenv, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, "usage: hlsgate [serve|keygen|sign] [flags]; hlsgate COMMAND -h for flags")
	default:
		err = fmt.Errorf("unknown command %q (want serve, keygen or sign)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "hlsgate:", err)
		return 1
	}
	return 0
}

func newLogger(cfg server.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := server.LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	return server.Run(ctx, cfg, newLogger(cfg, stderr), schema)
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hlsgate keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "k1", "key id (1-8 of A-Z a-z 0-9 _ -)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := signer.GenerateKey(*id)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.String())
	return nil
}

func sign(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hlsgate sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "username (required)")
	stream := fs.Int64("stream", 0, "stream id (required)")
	ip := fs.String("ip", "", "the viewer's IP address (required unless -bind-ip off)")
	ua := fs.String("ua", "", "the viewer's User-Agent, exactly (required unless -bind-ua off)")
	ttl := fs.Duration("ttl", 10*time.Minute, "lifetime of the URL")
	// Settings shared with serve.
	var shared []string
	for _, name := range []string{"db", "secret-file", "public-url", "bind-ip", "bind-ua", "session-ttl", "listen"} {
		fs.Func(name, "as for hlsgate serve", func(v string) error { shared = append(shared, "-"+name+"="+v); return nil })
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := server.LoadConfig(shared, getenv, stderr)
	if err != nil {
		return err
	}
	if *user == "" || *stream <= 0 {
		return errors.New("sign: -user and -stream are required")
	}
	var addr netip.Addr
	if *ip != "" {
		if addr, err = netip.ParseAddr(*ip); err != nil {
			return fmt.Errorf("sign: -ip: %w", err)
		}
	} else if cfg.BindIP != signer.BindIPOff {
		return errors.New("sign: -ip is required unless -bind-ip off")
	}
	if *ua == "" && cfg.BindUA {
		return errors.New("sign: -ua is required unless -bind-ua off")
	}
	u, exp, err := server.Sign(ctx, cfg, newLogger(cfg, stderr), schema, server.SignRequest{
		Username: *user, StreamID: *stream, IP: addr, UserAgent: *ua, TTL: *ttl,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, u)
	fmt.Fprintln(stderr, "expires", exp.UTC().Format(time.RFC3339))
	return nil
}
