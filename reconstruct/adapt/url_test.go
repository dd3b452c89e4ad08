package adapt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultDirURL checks that a volume read over HTTP gets its adapted
// model in the user cache, named after the URL, and never a folder beside
// it (which would be a local path made of the URL).
func TestDefaultDirURL(t *testing.T) {
	isolateCache(t)
	cache := os.Getenv("XDG_CACHE_HOME")
	cases := []struct {
		url, base string
	}{
		{"https://host/data/img.zarr", "img.zarr-"},
		{"http://host:8080/data/img.zarr/0?sig=a:b", "0-"},
		{"HTTPS://host/", "host-"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		beside, cached := candidateDirs(c.url, "niiv-tiny-model")
		if beside != "" {
			t.Errorf("%s: a folder beside the URL: %s", c.url, beside)
		}
		got := DefaultDir(c.url, "niiv-tiny-model")
		if got != cached || !strings.HasPrefix(got, cache) || !strings.HasPrefix(filepath.Base(got), c.base) || !strings.HasSuffix(got, "-tiny-model") {
			t.Errorf("DefaultDir(%s) = %s, want %s<hash>-tiny-model in %s", c.url, got, c.base, cache)
		}
		if seen[got] {
			t.Errorf("DefaultDir(%s) = %s, as for another URL", c.url, got)
		}
		seen[got] = true
		if _, ok := Remembered(c.url, testVolume(t, 2), "niiv-tiny-model"); ok {
			t.Errorf("Remembered(%s) found a model never saved", c.url)
		}
	}
}
