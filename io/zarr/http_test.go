package zarr

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/niiv/niiv/io/omezarr"
	"github.com/niiv/niiv/volume"
)

// Tests of reading over HTTP: a loopback server (http.FileServer over a
// temporary folder) serves images written by io/omezarr and by the test
// writers, and handler wrappers count, fail or cut requests.

// request is one request a served folder answered.
type request struct {
	method, path, rng string
	status            int
	bytes             int64 // body bytes sent
}

// reqLog records the requests of a server.
type reqLog struct {
	mu   sync.Mutex
	reqs []request
}

func (l *reqLog) add(r request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

// matching returns the requests whose path contains sub.
func (l *reqLog) matching(sub string) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []request
	for _, r := range l.reqs {
		if strings.Contains(r.path, sub) {
			out = append(out, r)
		}
	}
	return out
}

func (l *reqLog) reset() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// countingWriter records the status and body bytes of a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *countingWriter) WriteHeader(s int) {
	w.status = s
	w.ResponseWriter.WriteHeader(s)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// serve serves root on the loopback address through wrap (nil: none) and
// returns the server's URL and its request log.
func serve(t *testing.T, root string, wrap func(http.Handler) http.Handler) (string, *reqLog) {
	t.Helper()
	log := &reqLog{}
	var h http.Handler = http.FileServer(http.Dir(root))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		log.add(request{method: r.Method, path: r.URL.Path, rng: r.Header.Get("Range"), status: cw.status, bytes: cw.bytes})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, log
}

// fastRetries makes the HTTP store's retries wait a millisecond.
func fastRetries(t *testing.T) {
	t.Helper()
	old := defaultHTTP.wait
	defaultHTTP.wait = time.Millisecond
	t.Cleanup(func() { defaultHTTP.wait = old })
}

// onPath applies handler h to the requests whose path ends with suffix,
// and serves the others normally.
func onPath(suffix string, h func(next http.Handler, w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, suffix) {
				h(next, w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// fail500 answers 500 to the first n requests (n < 0: all).
func fail500(n int) func(next http.Handler, w http.ResponseWriter, r *http.Request) {
	var mu sync.Mutex
	return func(next http.Handler, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := n != 0
		if n > 0 {
			n--
		}
		mu.Unlock()
		if fail {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r)
	}
}

// truncated sends the headers of the real response, its Content-Length
// included, and only half its body.
func truncated(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body[:len(body)/2])
}

// testImage is a volume of uint16 voxels with a voxel size.
func testImage(t *testing.T, s volume.Shape) *volume.Volume {
	t.Helper()
	v, err := volume.New(s, pattern(s.Len()), volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	v.Name = "img"
	return v
}

// readAll reads every level of im whole.
func readAll(t *testing.T, im *Image) []*volume.Volume {
	t.Helper()
	var out []*volume.Volume
	for i, l := range im.Levels() {
		v, err := l.Read(context.Background(), volume.Whole(l.Meta().Shape))
		if err != nil {
			t.Fatalf("level %d: %v", i, err)
		}
		out = append(out, v)
	}
	return out
}

// TestHTTPMatchesFolder opens images from a folder and from the same
// folder served over HTTP: the levels, names, voxel sizes and voxels agree.
func TestHTTPMatchesFolder(t *testing.T) {
	shape := volume.Shape{Z: 8, Y: 20, X: 24}
	cases := []struct {
		name  string
		write func(t *testing.T, root string) // writes root/img.zarr
		open  string                          // inside root
	}{
		{"ome-zarr 0.4", func(t *testing.T, root string) {
			if err := omezarr.Write(context.Background(), filepath.Join(root, "img.zarr"), testImage(t, shape), omezarr.Options{Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Levels: 2}); err != nil {
				t.Fatal(err)
			}
		}, "img.zarr"},
		{"ome-zarr 0.4 level", func(t *testing.T, root string) {
			if err := omezarr.Write(context.Background(), filepath.Join(root, "img.zarr"), testImage(t, shape), omezarr.Options{Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Levels: 2}); err != nil {
				t.Fatal(err)
			}
		}, "img.zarr/1"},
		{"ome-zarr 0.5 sharded", func(t *testing.T, root string) {
			o := omezarr.Options{Version: "0.5", Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Shard: volume.Shape{Z: 8, Y: 16, X: 16}, Levels: 2}
			if err := omezarr.Write(context.Background(), filepath.Join(root, "img.zarr"), testImage(t, shape), o); err != nil {
				t.Fatal(err)
			}
		}, "img.zarr"},
		{"zarr v3 sharded array", func(t *testing.T, root string) {
			writeV3(t, filepath.Join(root, "img.zarr"), tShape, []int{2, 6, 8}, tChunk, pattern(prod(tShape)))
		}, "img.zarr"},
		{"zarr v2 array", func(t *testing.T, root string) {
			writeV2(t, filepath.Join(root, "img.zarr"), tShape, tChunk, pattern(prod(tShape)), "zstd")
		}, "img.zarr"},
		{"n5 dataset", func(t *testing.T, root string) {
			writeN5(t, filepath.Join(root, "img.zarr"), tShape, tChunk, pattern(prod(tShape)))
		}, "img.zarr"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			c.write(t, root)
			base, _ := serve(t, root, nil)
			local, err := Open(filepath.Join(root, filepath.FromSlash(c.open)), Options{Cache: NewCache(1 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			u := base + "/" + c.open
			remote, err := Open(u, Options{Cache: NewCache(1 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			if len(remote.Levels()) != len(local.Levels()) {
				t.Fatalf("%d levels over HTTP, %d from the folder", len(remote.Levels()), len(local.Levels()))
			}
			for i := range local.Levels() {
				lm, rm := local.Levels()[i].Meta(), remote.Levels()[i].Meta()
				if lm != rm {
					t.Errorf("level %d: meta %+v over HTTP, %+v from the folder", i, rm, lm)
				}
			}
			if !reflect.DeepEqual(remote.Notes(), local.Notes()) {
				t.Errorf("notes %q over HTTP, %q from the folder", remote.Notes(), local.Notes())
			}
			lv, rv := readAll(t, local), readAll(t, remote)
			for i := range lv {
				if !reflect.DeepEqual(lv[i].Data(), rv[i].Data()) {
					t.Errorf("level %d: voxels differ", i)
				}
				if lv[i].Voxel != rv[i].Voxel {
					t.Errorf("level %d: voxel %+v over HTTP, %+v from the folder", i, rv[i].Voxel, lv[i].Voxel)
				}
			}
			if c.open == "img.zarr" && strings.HasPrefix(c.name, "ome") {
				if vx := remote.Meta().Voxel; vx.Z != 40 || vx.Y != 4 || vx.X != 4 || !vx.Known {
					t.Errorf("voxel %+v, want 40×4×4 nm", vx)
				}
			}
			if k, err := Kind(u); err != nil || k != map[bool]string{true: "n5", false: "zarr"}[c.name == "n5 dataset"] {
				t.Errorf("Kind(%s) = %q, %v", u, k, err)
			}
		})
	}
}

// TestHTTPShardRanges reads one inner chunk of a sharded image over HTTP:
// the shard index and the inner chunk come by Range requests, and the
// shard is never downloaded whole.
func TestHTTPShardRanges(t *testing.T) {
	root := t.TempDir()
	o := omezarr.Options{Version: "0.5", Chunk: volume.Shape{Z: 4, Y: 8, X: 8}, Shard: volume.Shape{Z: 8, Y: 16, X: 16}, Levels: 1}
	if err := omezarr.Write(context.Background(), filepath.Join(root, "img.zarr"), testImage(t, volume.Shape{Z: 8, Y: 16, X: 16}), o); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(root, "img.zarr", "0", "c", "0", "0", "0")
	st, err := os.Stat(shard)
	if err != nil {
		t.Fatal(err)
	}
	base, log := serve(t, root, nil)
	im, err := Open(base+"/img.zarr", Options{Cache: NewCache(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	log.reset()
	v, err := im.Read(context.Background(), volume.Box{Z0: 0, Z1: 2, Y0: 0, Y1: 4, X0: 0, X1: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(8 * 16 * 16)
	got := v.Data().([]uint16)
	for z := range 2 {
		for y := range 4 {
			for x := range 4 {
				if g, w := got[(z*4+y)*4+x], want[(z*16+y)*16+x]; g != w {
					t.Fatalf("voxel (%d, %d, %d) = %d, want %d", z, y, x, g, w)
				}
			}
		}
	}
	reqs := log.matching("/c/0/0/0")
	if len(reqs) != 2 {
		t.Fatalf("%d requests of the shard, want 2 (index, inner chunk): %+v", len(reqs), reqs)
	}
	var sent int64
	for _, r := range reqs {
		if r.method != http.MethodGet || r.rng == "" || r.status != http.StatusPartialContent {
			t.Errorf("request %+v: want a GET with Range answered 206", r)
		}
		sent += r.bytes
	}
	if sent >= st.Size() {
		t.Errorf("%d bytes of the %d-byte shard sent to read one inner chunk", sent, st.Size())
	}
}

// TestHTTPMissingIsFill checks that chunks and shards the server does not
// have (404, or 403 as object stores answer) read as the fill value.
func TestHTTPMissingIsFill(t *testing.T) {
	data := pattern(prod(tShape))
	cases := []struct {
		name   string
		write  func(t *testing.T, d string)
		remove string
		bad    [][]int
	}{
		{"v2 chunk", func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "zstd") }, "0.1.0", [][]int{{0, 1, 0}}},
		{"v3 shard", func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) }, "c/0/0/0", [][]int{{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}}},
		{"n5 block", func(t *testing.T, d string) { writeN5(t, d, tShape, tChunk, data) }, "1/1/0", [][]int{{0, 1, 1}}},
	}
	for _, status := range []int{http.StatusNotFound, http.StatusForbidden} {
		for _, c := range cases {
			t.Run(c.name+" "+strconv.Itoa(status), func(t *testing.T) {
				root := t.TempDir()
				dir := filepath.Join(root, "a")
				c.write(t, dir)
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(c.remove))); err != nil {
					t.Fatal(err)
				}
				base, _ := serve(t, root, func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(r.URL.Path))); err != nil {
							http.Error(w, "no", status)
							return
						}
						next.ServeHTTP(w, r)
					})
				})
				im, err := Open(base+"/a", Options{Cache: NewCache(1 << 20)})
				if err != nil {
					t.Fatal(err)
				}
				b := volume.Whole(im.Meta().Shape)
				v, err := im.Read(context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				checkDamaged(t, v, b, data, c.bad, tChunk)
			})
		}
	}
}

// TestHTTPRetry checks that requests failing with 500 a few times are
// retried, and that a server failing for good, cutting bodies short or not
// answering gives errors naming the URL.
func TestHTTPRetry(t *testing.T) {
	fastRetries(t)
	data := pattern(prod(tShape))
	v2 := func(t *testing.T, d string) { writeV2(t, d, tShape, tChunk, data, "zstd") }
	shard := func(t *testing.T, d string) { writeV3(t, d, tShape, []int{2, 6, 8}, tChunk, data) }
	cases := []struct {
		name    string
		write   func(t *testing.T, d string)
		path    string // the key of a/ the handler acts on
		handle  func(next http.Handler, w http.ResponseWriter, r *http.Request)
		openErr []string // what Open's error says; nil: Open succeeds
		bad     [][]int  // chunks that read as fill
		readErr []string // what Read's error says
		tries   int      // requests of path, when not 0
	}{
		{name: "chunk 500 once", write: v2, path: "/0.1.0", handle: fail500(1), tries: 2},
		{name: "chunk 500 three times", write: v2, path: "/0.1.0", handle: fail500(3), tries: 4},
		{name: "metadata 500 once", write: v2, path: "/.zarray", handle: fail500(1)},
		{name: "shard 500 once", write: shard, path: "/c/1/0/0", handle: fail500(1)},
		{
			name: "chunk 500 always", write: v2, path: "/0.1.0", handle: fail500(-1), tries: 4,
			bad:     [][]int{{0, 1, 0}},
			readErr: []string{"chunk 0.1.0", "GET http://", "/a/0.1.0", "500 Internal Server Error", "after 4 attempts"},
		},
		{
			name: "chunk truncated", write: v2, path: "/0.1.0", handle: truncated, tries: 4,
			bad:     [][]int{{0, 1, 0}},
			readErr: []string{"chunk 0.1.0", "GET http://", "/a/0.1.0", "unexpected EOF"},
		},
		{
			name: "shard range truncated", write: shard, path: "/c/1/0/0", handle: truncated,
			bad:     [][]int{{1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {1, 1, 1}},
			readErr: []string{"GET http://", "/a/c/1/0/0", "Range: bytes=", "unexpected EOF"},
		},
		{
			name: "metadata 500 always", write: v2, path: "/.zarray", handle: fail500(-1),
			openErr: []string{"zarr: open http://", "HEAD http://", "/a/.zarray", "500 Internal Server Error", "after 4 attempts"},
		},
		{
			name: "metadata truncated", write: v2, path: "/.zarray", handle: truncated,
			openErr: []string{"zarr: open http://", ".zarray: GET http://", "/a/.zarray", "unexpected EOF"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			c.write(t, filepath.Join(root, "a"))
			base, log := serve(t, root, onPath("/a"+c.path, c.handle))
			im, err := Open(base+"/a", Options{Cache: NewCache(1 << 20)})
			if c.openErr != nil {
				if err == nil {
					t.Fatal("Open succeeded")
				}
				for _, s := range c.openErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Open error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := volume.Whole(im.Meta().Shape)
			v, err := im.Read(context.Background(), b)
			if c.readErr == nil && err != nil {
				t.Fatal(err)
			}
			if c.readErr != nil {
				var ce *ChunkErrors
				if !errors.As(err, &ce) {
					t.Fatalf("Read error %v, want *ChunkErrors", err)
				}
				for _, s := range c.readErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Read error %q does not say %q", err, s)
					}
				}
			}
			checkDamaged(t, v, b, data, c.bad, tChunk)
			if n := len(log.matching("/a" + c.path)); c.tries != 0 && n != c.tries {
				t.Errorf("%d requests of %s, want %d", n, c.path, c.tries)
			}
		})
	}
}

// TestHTTPUnreachable checks the errors of a server that is gone and of
// one too slow to answer.
func TestHTTPUnreachable(t *testing.T) {
	fastRetries(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	gone := srv.URL + "/img.zarr"
	srv.Close()
	_, err := Open(gone, Options{})
	if err == nil || !strings.Contains(err.Error(), "HEAD "+gone+"/.zarray") || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Errorf("Open of a closed server: %v", err)
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	old := defaultHTTP.client
	defaultHTTP.client = &http.Client{Timeout: 50 * time.Millisecond}
	defer func() { defaultHTTP.client = old }()
	_, err = Open(slow.URL+"/img.zarr", Options{})
	if err == nil || !strings.Contains(err.Error(), slow.URL+"/img.zarr/.zarray") || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("Open of a server that does not answer: %v", err)
	}
}

// TestHTTPGroupWithoutMultiscales checks the error for a group whose
// arrays cannot be listed over HTTP.
func TestHTTPGroupWithoutMultiscales(t *testing.T) {
	root := t.TempDir()
	writeTree(t, filepath.Join(root, "g.zarr"), map[string]string{".zgroup": `{"zarr_format": 2}`})
	writeV2(t, filepath.Join(root, "g.zarr", "raw"), tShape, tChunk, pattern(prod(tShape)), "")
	base, _ := serve(t, root, nil)
	_, err := Open(base+"/g.zarr/", Options{})
	if err == nil || !strings.Contains(err.Error(), "by its URL, as "+base+"/g.zarr/0") || !strings.Contains(err.Error(), "cannot be listed over HTTP") {
		t.Errorf("Open of a group: %v", err)
	}
	if _, err := Open(base+"/g.zarr/raw", Options{}); err != nil {
		t.Errorf("Open of its array: %v", err)
	}
	if k, err := Kind(base + "/nothing.zarr"); k != "" || err != nil {
		t.Errorf("Kind of a missing URL = %q, %v", k, err)
	}
}

// TestURLPaths checks the path arithmetic of URL locations.
func TestURLPaths(t *testing.T) {
	s := defaultHTTP
	cases := []struct {
		name, got, want string
	}{
		{"join", s.join("http://h:1/d/img.zarr", "0", "c/0/1"), "http://h:1/d/img.zarr/0/c/0/1"},
		{"join keeps query", s.join("https://h/img.zarr?sig=x", ".zattrs"), "https://h/img.zarr/.zattrs?sig=x"},
		{"join escapes", s.join("http://h/my%20data", "a b"), "http://h/my%20data/a%20b"},
		{"dir", s.dir("http://h/d/img.zarr/0"), "http://h/d/img.zarr"},
		{"dir of top", s.dir("http://h/"), "http://h/"},
		{"dir to top", s.dir("http://h/img.zarr"), "http://h/"},
		{"base", s.base("http://h/d/img.zarr"), "img.zarr"},
		{"base of top", s.base("http://h/"), "h"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	if r, err := s.rel("http://h/d/img.zarr", "http://h/d/img.zarr/0/1"); r != "0/1" || err != nil {
		t.Errorf("rel = %q, %v", r, err)
	}
	if _, err := s.rel("http://h/d/img.zarr", "http://other/d/img.zarr/0"); err == nil {
		t.Error("rel across hosts succeeded")
	}
	for raw, want := range map[string]string{
		"HTTP://h/d/img.zarr/":         "http://h/d/img.zarr",
		"http://h/d/./img.zarr/0/../0": "http://h/d/img.zarr/0",
		"http://h":                     "http://h/",
	} {
		if got, err := cleanURL(raw); got != want || err != nil {
			t.Errorf("cleanURL(%s) = %q, %v, want %q", raw, got, err, want)
		}
	}
	if _, err := cleanURL("http:///img.zarr"); err == nil {
		t.Error("a URL without host was accepted")
	}
}

// TestHTTPServerQuirks reads a sharded image from servers that ignore
// Range headers (the whole shard comes, and the part asked for is kept)
// or refuse HEAD requests (existence is asked with a one-byte GET).
func TestHTTPServerQuirks(t *testing.T) {
	data := pattern(prod(tShape))
	cases := []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"no Range", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Range")
				next.ServeHTTP(w, r)
			})
		}},
		{"no HEAD", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					http.Error(w, "no", http.StatusMethodNotAllowed)
					return
				}
				next.ServeHTTP(w, r)
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeV3(t, filepath.Join(root, "a"), tShape, []int{2, 6, 8}, tChunk, data)
			base, _ := serve(t, root, c.wrap)
			im, err := Open(base+"/a", Options{Cache: NewCache(1 << 20)})
			if err != nil {
				t.Fatal(err)
			}
			b := volume.Whole(im.Meta().Shape)
			v, err := im.Read(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			checkDamaged(t, v, b, data, nil, tChunk)
		})
	}
}

// TestHTTPHostDown checks that a host whose request failed after its
// retries gets no retries for a while, until a request to it succeeds.
func TestHTTPHostDown(t *testing.T) {
	s := &httpStore{retries: 3}
	steps := []struct {
		mark    *bool // nil: no mark
		retries int
	}{
		{nil, 3},
		{ptr(true), 0},
		{ptr(false), 3},
	}
	for i, st := range steps {
		if st.mark != nil {
			s.markHost("h:1", *st.mark)
		}
		if got := s.retriesFor("h:1"); got != st.retries {
			t.Errorf("step %d: %d retries, want %d", i, got, st.retries)
		}
		if got := s.retriesFor("other:1"); got != 3 {
			t.Errorf("step %d: %d retries for another host, want 3", i, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }
