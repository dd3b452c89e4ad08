// Package debugstats records the process's resident memory, goroutine count
// and Go heap over time, for soak tests and leak hunting (scripts/soak.sh).
// It is off unless the environment asks for it, and never shows in the UI.
//
// Set NIIV_DEBUG_STATS to a file name and every niiv command appends to
// that file, every 0.5 s while it runs and once more when it ends, a line
//
//	t_s rss_kb goroutines heap_kb cpu_s
//
// (seconds since the start, resident set size in kB read from
// /proc/self/statm, runtime.NumGoroutine, the Go heap's live and
// not-yet-swept objects in kB, and the CPU time the process has used, user
// and system, in seconds; 0 where unknown), after a header line starting
// with "#" that names the process id and the columns. RSS includes what ONNX Runtime
// allocates in C, which the Go heap does not; it reads 0 where /proc is
// missing (not Linux). NIIV_DEBUG_STATS_INTERVAL (a Go duration, e.g.
// 100ms) changes the interval.
//
// While recording, SIGUSR1 (Unix) asks for a settled sample: a garbage
// collection, debug.FreeOSMemory, glibc's malloc_trim (Linux), then the
// line "# settled" and a sample, so that two such samples compare live
// memory rather than garbage and allocators' free lists. (Without
// NIIV_DEBUG_STATS, SIGUSR1 ends the process, as Go's default.)
//
//	NIIV_DEBUG_STATS=/tmp/stats.txt niiv view volume.npy
package debugstats

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Env is the environment variable naming the stats file.
const Env = "NIIV_DEBUG_STATS"

// EnvInterval is the environment variable that overrides Interval.
const EnvInterval = "NIIV_DEBUG_STATS_INTERVAL"

// Interval is the default time between two samples.
const Interval = 500 * time.Millisecond

// Sample is one measurement.
type Sample struct {
	Elapsed    time.Duration
	RSSKB      int64 // resident set size, 0 when unknown
	Goroutines int
	HeapKB     int64   // Go heap objects (live and unswept)
	CPU        float64 // user and system CPU seconds so far, 0 when unknown
}

// String formats s as one line of the stats file (without newline).
func (s Sample) String() string {
	return fmt.Sprintf("%.3f %d %d %d %.2f", s.Elapsed.Seconds(), s.RSSKB, s.Goroutines, s.HeapKB, s.CPU)
}

// Header is the first line written by each process (without newline).
func Header(pid int) string {
	return fmt.Sprintf("# niiv pid %d: t_s rss_kb goroutines heap_kb cpu_s", pid)
}

// StartFromEnv starts recording when NIIV_DEBUG_STATS is set, and returns
// the function that stops it (writing a last sample); it returns a no-op
// when the variable is unset. A file that cannot be opened is reported on
// warn and otherwise ignored.
func StartFromEnv(warn io.Writer) (stop func()) {
	path := os.Getenv(Env)
	if path == "" {
		return func() {}
	}
	every := Interval
	if s := os.Getenv(EnvInterval); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			every = d
		} else {
			fmt.Fprintf(warn, "niiv: %s=%q is not a positive duration, using %v\n", EnvInterval, s, Interval)
		}
	}
	stop, err := Start(path, every)
	if err != nil {
		fmt.Fprintf(warn, "niiv: %s: %v\n", Env, err)
		return func() {}
	}
	return stop
}

// Start appends a header and then one sample every interval to the file at
// path until stop is called; stop writes a last sample, closes the file and
// may be called more than once.
func Start(path string, every time.Duration) (stop func(), err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	write := func(line string) { f.WriteString(line + "\n") } // one write per line
	write(Header(os.Getpid()))
	write(Take(t0).String())
	done := make(chan struct{})
	finished := make(chan struct{})
	settle, stopSettle := settleRequests()
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				write(Take(t0).String())
			case <-settle:
				write(Settled(t0))
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			stopSettle()
			close(done)
			<-finished
			write(Take(t0).String())
			f.Close()
		})
	}, nil
}

// Settled collects garbage, returns freed Go and C memory to the system and
// returns the "# settled" line followed by a sample (without the last
// newline).
func Settled(t0 time.Time) string {
	runtime.GC()
	debug.FreeOSMemory()
	trimC()
	return "# settled\n" + Take(t0).String()
}

// Take measures the process now; t0 is the start the elapsed time counts from.
func Take(t0 time.Time) Sample {
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(m) // unlike runtime.ReadMemStats, does not stop the world
	var heap int64
	if m[0].Value.Kind() == metrics.KindUint64 {
		heap = int64(m[0].Value.Uint64() / 1024)
	}
	return Sample{
		Elapsed:    time.Since(t0),
		RSSKB:      rssKB("/proc/self/statm"),
		Goroutines: runtime.NumGoroutine(),
		HeapKB:     heap,
		CPU:        cpuSeconds(),
	}
}

// rssKB reads the resident set size from a statm file (its second field,
// in pages), or 0.
func rssKB(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || pages < 0 {
		return 0
	}
	return pages * int64(os.Getpagesize()) / 1024
}
