//go:build unix

package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalCancels sends SIGINT and SIGTERM to the test process while a
// command runs: each must cancel the command's context, so that it can clean
// up, and niiv must exit with status 130 for both.
func TestSignalCancels(t *testing.T) {
	// Keep a signal that Main does not catch from killing the test binary;
	// the check below then fails instead.
	guard := make(chan os.Signal, 4)
	signal.Notify(guard, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(guard)

	started := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	register(&Command{
		Name: "test-wait-for-signal", Summary: "waits until cancelled (test only)",
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			return func(ctx context.Context, env *Env, args []string) error {
				started <- struct{}{}
				select {
				case <-ctx.Done():
					cancelled <- struct{}{}
					return ctx.Err()
				case <-time.After(10 * time.Second):
					return nil
				}
			}
		},
	})
	defer delete(commands, "test-wait-for-signal")

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			var stderr bytes.Buffer
			done := make(chan int)
			go func() { done <- Main([]string{"test-wait-for-signal"}, &bytes.Buffer{}, &stderr) }()
			<-started
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			code := <-done
			select {
			case <-cancelled:
			default:
				t.Fatalf("%v did not cancel the command (exit status %d)", sig, code)
			}
			if code != 130 || !strings.Contains(stderr.String(), "cancelled") {
				t.Fatalf("exit status %d, stderr %q; want 130 and 'cancelled'", code, stderr.String())
			}
		})
	}
}
