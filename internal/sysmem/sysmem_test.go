package sysmem

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestFromMeminfo(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text string
		want int64
	}{
		{"MemTotal:       24576000 kB\nMemFree: 1 kB\n", 24576000 * 1024},
		{"MemFree: 1 kB\nMemTotal: 1024 kB\n", 1 << 20},
		{"MemTotal: lots\n", 0},
		{"nothing here\n", 0},
	} {
		p := filepath.Join(dir, "meminfo")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := fromMeminfo(p); got != c.want {
			t.Errorf("%q: %d, want %d", c.text, got, c.want)
		}
	}
	if got := fromMeminfo(filepath.Join(dir, "none")); got != 0 {
		t.Errorf("missing file: %d", got)
	}
	if runtime.GOOS == "linux" && Total() <= 0 {
		t.Errorf("Total() = %d on Linux", Total())
	}
}
