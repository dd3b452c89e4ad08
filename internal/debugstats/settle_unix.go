//go:build unix

package debugstats

import (
	"os"
	"os/signal"
	"syscall"
)

// settleRequests delivers a value for each SIGUSR1 until stop is called.
func settleRequests() (c <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	return ch, func() { signal.Stop(ch) }
}
