// Command hush is a privacy-first recursive DNS resolver. It keeps no query
// log: nothing it prints names a query, an answer or a client.
//
// Subcommands:
//
//	hush serve    run the resolver (see hush serve --help)
//	hush query    ask a DNS server one question and print the reply like dig
//	hush demo     run a resolver against a simulated internet, offline
//	hush version  print the version (also hush --version)
//	hush ctl      control a running hush serve through its control socket
//
// Exit status: 0 on success, 1 when the work itself failed (no response,
// a socket that cannot be opened), 2 for a bad flag, argument, config key
// or value. Every error is one line on stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version and buildTime are set at link time (-ldflags "-X
// main.version=... -X main.buildTime=...", see the Makefile). They are the
// only package-level variables: the linker can set nothing else.
var (
	version   = "dev"
	buildTime = "" // RFC 3339; see clockFloor
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit status.
// It never calls os.Exit, so tests drive it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{
		stdout:  stdout,
		stderr:  stderr,
		version: version,
		serve:   runServe,
		demo:    runDemo,
	}
	return e.run(ctx, args)
}

// env is what the commands take from the outside world. Tests replace
// serve to inspect the configuration a command line produces.
type env struct {
	stdout, stderr io.Writer
	version        string
	serve          func(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) error
	demo           func(ctx context.Context, stdout, stderr io.Writer) error
}

// run executes args and turns the outcome into an exit status, printing
// any error as exactly one line.
func (e *env) run(ctx context.Context, args []string) int {
	root := newRootCmd(e, args)
	// A nil slice would make cobra read os.Args.
	root.SetArgs(append([]string{}, args...))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(e.stderr, "hush: %s\n", oneLine(err.Error()))
	return exitCode(err)
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the work failed: no response, a socket could not be opened
	exitUsage = 2 // bad flag, argument, config key or value
)

func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFail
}

// usageError marks a mistake in how hush was invoked: a flag, an
// argument, a config key or value. It makes the exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// oneLine keeps an error to one line whatever a library put in it.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// newRootCmd builds the command tree for one run; args are the raw
// arguments, used only to name an unknown flag given without a command.
func newRootCmd(e *env, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "hush",
		Short: "hush is a privacy-first recursive DNS resolver",
		Long: "hush is a privacy-first recursive DNS resolver: it answers queries by\n" +
			"walking the DNS tree from the root servers, and keeps no query log.",
		SilenceUsage:       true,
		SilenceErrors:      true,
		DisableSuggestions: true,
		// Unknown flags before an unknown command should report the
		// command, not the flag.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		Args: func(_ *cobra.Command, rest []string) error {
			switch {
			case len(rest) > 0:
				return usageErrorf("unknown command %q (see hush --help)", rest[0])
			case len(args) > 0:
				return usageErrorf("unknown flag: %s (see hush --help)", args[0])
			}
			return usageErrorf("missing command (see hush --help)")
		},
		// RunE makes the root runnable so that Args above reports a
		// missing or unknown command; it is never reached.
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newServeCmd(e),
		newQueryCmd(e),
		newDemoCmd(e),
		newVersionCmd(e),
		newCtlCmd(e),
	)
	// hush --version prints what hush version does.
	root.Version = e.version
	root.SetVersionTemplate(versionText(e.version))
	return root
}

// flagError turns pflag's parse errors (unknown flag, missing value) into
// usage errors that name the command.
func flagError(cmd *cobra.Command, err error) error {
	if cmd.HasParent() {
		return usageErrorf("%s: %w", cmd.Name(), err)
	}
	return &usageError{err}
}

// noArgs rejects positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s: unexpected argument %q", cmd.Name(), args[0])
	}
	return nil
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the hush version and the Go version it was built with",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := io.WriteString(e.stdout, versionText(e.version))
			return err
		},
	}
}

// versionText is what hush version prints: the version, the Go version
// and platform, and, for a build with tags (the router builds of make
// cross leave features out), a third line naming them.
func versionText(v string) string {
	s := fmt.Sprintf("hush %s\n%s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if tags := buildTags(); tags != "" {
		s += "built with -tags " + tags + "\n"
	}
	return s
}

// buildTags are the -tags the binary was built with, from its build
// information ("" when none or unknown).
func buildTags() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			return s.Value
		}
	}
	return ""
}

func newDemoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a resolver against a simulated internet on loopback, offline",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.demo(cmd.Context(), e.stdout, e.stderr)
		},
	}
}
