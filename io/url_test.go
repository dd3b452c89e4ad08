package volio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/niiv/niiv/io/omezarr"
	"github.com/niiv/niiv/volume"
)

// serveFolder serves root over HTTP on the loopback address and returns
// its URL and the paths requested.
func serveFolder(t *testing.T, root string) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	fs := http.FileServer(http.Dir(root))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// TestOpenURL opens OME-Zarr 0.4 and 0.5 (sharded) images served over
// HTTP: Detect and Inspect recognise them, OpenWith reads them lazily
// (whole with LazyNever), with the voxels and voxel size of the folder.
func TestOpenURL(t *testing.T) {
	s := volume.Shape{Z: 6, Y: 40, X: 30}
	d := make([]uint16, s.Len())
	for i := range d {
		d[i] = uint16(i * 13)
	}
	want, err := volume.New(s, d, volume.Voxel{Z: 40, Y: 5, X: 5, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    omezarr.Options
		open string
	}{
		{"0.4", omezarr.Options{Chunk: volume.Shape{Z: 2, Y: 16, X: 16}}, "img.zarr"},
		{"0.4 level 0", omezarr.Options{Chunk: volume.Shape{Z: 2, Y: 16, X: 16}}, "img.zarr/0"},
		{"0.5 sharded", omezarr.Options{Version: "0.5", Chunk: volume.Shape{Z: 2, Y: 16, X: 16}, Shard: volume.Shape{Z: 4, Y: 32, X: 32}}, "img.zarr"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if err := SaveZarr(context.Background(), filepath.Join(root, "img.zarr"), want, c.o); err != nil {
				t.Fatal(err)
			}
			base, _ := serveFolder(t, root)
			u := base + "/" + c.open
			local := filepath.Join(root, filepath.FromSlash(c.open))
			if fm, err := Detect(u); fm != Zarr || err != nil {
				t.Fatalf("Detect = %q, %v", fm, err)
			}
			info, err := Inspect(u)
			if err != nil {
				t.Fatal(err)
			}
			linfo, err := Inspect(local)
			if err != nil {
				t.Fatal(err)
			}
			if info.Path != u || info.Format != Zarr || info.Shape != linfo.Shape || info.DType != linfo.DType || info.Voxel != linfo.Voxel || info.Detail != linfo.Detail {
				t.Errorf("Inspect(URL) = %+v, the folder %+v", info, linfo)
			}
			for _, lazy := range []Lazy{LazyAuto, LazyAlways, LazyNever} {
				v, err := OpenWith(u, Options{Lazy: lazy})
				if err != nil {
					t.Fatal(err)
				}
				if v.Lazy() != (lazy != LazyNever) {
					t.Errorf("Lazy %v: lazy is %v", lazy, v.Lazy())
				}
				if vx := v.Voxel; v.Shape() != s || vx.Z != 40 || vx.Y != 5 || vx.X != 5 || vx.Unit != "nm" || !vx.Known {
					t.Errorf("Lazy %v: %v, voxel %+v", lazy, v.Shape(), v.Voxel)
				}
				lv, err := OpenWith(local, Options{Lazy: lazy})
				if err != nil {
					t.Fatal(err)
				}
				if v.Voxel != lv.Voxel || v.Name != lv.Name {
					t.Errorf("Lazy %v: voxel %+v, name %q over HTTP; %+v, %q from the folder", lazy, v.Voxel, v.Name, lv.Voxel, lv.Name)
				}
				m, err := v.Read(context.Background(), volume.Whole(s))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(m.Data(), want.Data()) {
					t.Errorf("Lazy %v: voxels differ", lazy)
				}
			}
		})
	}
}

// TestURLErrors checks URLs that are not Zarr: errors name the URL, and
// neither a query nor a colon makes the path a glob pattern or an archive
// member read from disk.
func TestURLErrors(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.npy"), []byte("\x93NUMPY"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, requested := serveFolder(t, root)
	for _, u := range []string{base + "/nothing.zarr", base + "/a.npy", base + "/x.zarr?glob=*[", base + "/b.npz:arr"} {
		fm, err := Detect(u)
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "volio: open "+u+": ") || !strings.Contains(err.Error(), "at this URL") {
			t.Errorf("Detect(%s) = %q, %v", u, fm, err)
		}
		if _, err := OpenWith(u, Options{}); err == nil || !strings.Contains(err.Error(), u) {
			t.Errorf("OpenWith(%s): %v", u, err)
		}
	}
	if len(requested()) == 0 {
		t.Error("the server was not asked")
	}
}

// TestURLNoLocalFiles checks that nothing is written for, or read beside, a
// URL: writers refuse it, and voxel-size sidecars and names skip it.
func TestURLNoLocalFiles(t *testing.T) {
	t.Chdir(t.TempDir()) // a URL taken for a path would make "http:" here
	v, err := volume.New(volume.Shape{Z: 1, Y: 2, X: 2}, make([]uint8, 4), volume.Voxel{Z: 2, Y: 1, X: 1, Unit: "nm", Known: true})
	if err != nil {
		t.Fatal(err)
	}
	const u = "http://127.0.0.1:1/data/out-4x4x40nm.zarr?sig=a"
	writes := []struct {
		name string
		err  error
	}{
		{"Save", Save(u, v)},
		{"Save .npy", Save("https://host/out.npy", v)},
		{"SaveZarr", SaveZarr(context.Background(), u, v, omezarr.Options{})},
		{"CheckSave", CheckSave("https://host/out.tif")},
		{"WriteNPY", WriteNPY("https://host/out.npy", v)},
		{"WriteTIFF", WriteTIFF("https://host/out.tif", v)},
		{"writeSidecar", writeSidecar("https://host/out.npy", v.Voxel)},
	}
	for _, w := range writes {
		if !errors.Is(w.err, errURLWrite) || !strings.Contains(w.err.Error(), "volio: write http") {
			t.Errorf("%s to a URL: %v", w.name, w.err)
		}
	}
	if vox, err := readSidecar(sidecarPath("https://host/a.npy")); err != nil || vox.Known {
		t.Errorf("sidecar of a URL: %+v, %v", vox, err)
	}
	if vox, ok := voxelFromName(u); !ok || vox.Z != 40 || vox.X != 4 {
		t.Errorf("voxel size from the URL's name: %+v, %v", vox, ok)
	}
	if ents, _ := os.ReadDir("."); len(ents) != 0 {
		t.Errorf("files made in the working folder: %v", ents)
	}
}
