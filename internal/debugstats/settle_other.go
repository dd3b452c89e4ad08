//go:build !unix

package debugstats

import "os"

// settleRequests: no SIGUSR1 here, so no settled samples on request.
func settleRequests() (c <-chan os.Signal, stop func()) { return nil, func() {} }
