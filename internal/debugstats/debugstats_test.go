package debugstats

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRSSKB(t *testing.T) {
	dir := t.TempDir()
	page := int64(os.Getpagesize())
	for _, c := range []struct {
		text string
		want int64
	}{
		{"1000 250 30 1 0 200 0\n", 250 * page / 1024},
		{"1000\n", 0},
		{"1000 many 3\n", 0},
		{"", 0},
	} {
		p := filepath.Join(dir, "statm")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := rssKB(p); got != c.want {
			t.Errorf("%q: %d kB, want %d", c.text, got, c.want)
		}
	}
	if got := rssKB(filepath.Join(dir, "none")); got != 0 {
		t.Errorf("missing file: %d", got)
	}
}

// parse reads a stats file: its header lines and its samples' fields.
func parse(t *testing.T, path string) (headers []string, rows [][5]float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			headers = append(headers, line)
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("line %q: %d fields, want 5", line, len(f))
		}
		var r [5]float64
		for i, s := range f {
			if r[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
		}
		rows = append(rows, r)
	}
	return headers, rows
}

func TestStartWritesSamples(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.txt")
	stop, err := Start(path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	for range 5 { // goroutines the samples must count
		go func() { <-block }()
	}
	time.Sleep(120 * time.Millisecond)
	close(block)
	stop()
	stop() // a second stop is harmless

	headers, rows := parse(t, path)
	if len(headers) != 1 || !strings.Contains(headers[0], "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("headers %q, want one naming pid %d", headers, os.Getpid())
	}
	if len(rows) < 5 {
		t.Fatalf("%d samples in 120 ms at 10 ms, want several", len(rows))
	}
	maxG := 0.0
	for i, r := range rows {
		if i > 0 && r[0] < rows[i-1][0] {
			t.Errorf("time goes back: %v after %v", r[0], rows[i-1][0])
		}
		if i > 0 && r[4] < rows[i-1][4] {
			t.Errorf("CPU time goes back: %v after %v", r[4], rows[i-1][4])
		}
		if runtime.GOOS == "linux" && r[1] <= 0 {
			t.Errorf("sample %d: rss %v kB, want > 0 on Linux", i, r[1])
		}
		if r[3] <= 0 {
			t.Errorf("sample %d: heap %v kB, want > 0", i, r[3])
		}
		maxG = max(maxG, r[2])
	}
	if runtime.GOOS == "linux" && rows[len(rows)-1][4] <= 0 {
		t.Errorf("no CPU time used by the end: %v s", rows[len(rows)-1][4])
	}
	if maxG < 6 {
		t.Errorf("at most %v goroutines counted while 5 extra were blocked", maxG)
	}

	// A second run appends, with its own header.
	stop, err = Start(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	headers2, rows2 := parse(t, path)
	if len(headers2) != 2 || len(rows2) != len(rows)+2 { // the first sample and the last
		t.Errorf("after a second run: %d headers, %d samples; want 2 and %d", len(headers2), len(rows2), len(rows)+2)
	}
}

func TestStartFromEnv(t *testing.T) {
	var warn bytes.Buffer
	t.Setenv(Env, "")
	StartFromEnv(&warn)() // unset: nothing happens
	if warn.Len() != 0 {
		t.Errorf("unset: warned %q", warn.String())
	}

	path := filepath.Join(t.TempDir(), "stats.txt")
	t.Setenv(Env, path)
	t.Setenv(EnvInterval, "bogus")
	StartFromEnv(&warn)()
	if !strings.Contains(warn.String(), EnvInterval) {
		t.Errorf("a bad interval was not reported: %q", warn.String())
	}
	if _, rows := parse(t, path); len(rows) != 2 {
		t.Errorf("%d samples, want the first and the last", len(rows))
	}

	warn.Reset()
	t.Setenv(EnvInterval, "")
	t.Setenv(Env, filepath.Join(t.TempDir(), "missing", "stats.txt"))
	StartFromEnv(&warn)() // cannot open: warns, does not fail
	if !strings.Contains(warn.String(), Env) {
		t.Errorf("an unwritable file was not reported: %q", warn.String())
	}
}
