//go:build !unix

package debugstats

import "os"

// settleRequests: no SIGUSR1 here, so no settled samples on request.
func settleRequests() (c <-chan os.Signal, stop func()) { return nil, func() {} }

// cpuSeconds is unknown here.
func cpuSeconds() float64 { return 0 }
