package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/hush-dns/hush/control"
	"github.com/spf13/cobra"
)

// newCtlCmd builds hush ctl, the client of hush serve --control-socket.
func newCtlCmd(e *env) *cobra.Command {
	socket := control.DefaultSocket
	cmd := &cobra.Command{
		Use:   "ctl VERB [ARGS]",
		Short: "Control a running hush serve through its control socket",
		Long: "Send one request to hush serve --control-socket and print the answer.\n\n" +
			"Verbs:\n  " + indent(control.Usage) + "\n\n" +
			"No verb shows cache contents or what clients asked.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("ctl: missing verb (see hush ctl --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := control.Validate(args); err != nil {
				return &usageError{fmt.Errorf("ctl: %w", err)}
			}
			out, err := control.Do(cmd.Context(), socket, args)
			if errors.Is(err, control.ErrUsage) {
				return &usageError{fmt.Errorf("ctl: %w", err)}
			}
			if err != nil {
				return err
			}
			if out == "" {
				out = "ok\n"
			}
			_, err = io.WriteString(e.stdout, out)
			return err
		},
	}
	cmd.Flags().StringVar(&socket, "control-socket", socket, "`PATH` of the control socket hush serve listens on")
	return cmd
}

func indent(s string) string {
	out := make([]byte, 0, len(s)+32)
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' {
			out = append(out, ' ', ' ')
		}
	}
	return string(out)
}
