package mrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/niiv/niiv/volume"
)

// countingReader counts the reads and bytes that go through it, and calls
// hook (when set) before each read.
type countingReader struct {
	r            io.ReaderAt
	calls, bytes atomic.Int64
	hook         func()
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	if c.hook != nil {
		c.hook()
	}
	c.calls.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// writeTestFile writes a test volume of type dt and shape s with niiv's
// writer and returns its path and the volume.
func writeTestFile(t testing.TB, dir string, dt volume.DType, s volume.Shape) (string, *volume.Volume) {
	t.Helper()
	v := testVolume(t, dt, s, volume.Voxel{Z: 40, Y: 4, X: 4, Unit: "nm", Known: true}, 1)
	p := filepath.Join(dir, "t.mrc")
	if err := Write(p, v); err != nil {
		t.Fatal(err)
	}
	return p, v
}

// TestReadCalls checks that Read reads only the box's bytes, in one read
// per contiguous run: per section when the box spans whole rows, else per
// row.
func TestReadCalls(t *testing.T) {
	s := volume.Shape{Z: 4, Y: 6, X: 5}
	p, _ := writeTestFile(t, t.TempDir(), volume.Int16, s)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases := []struct {
		name  string
		box   volume.Box
		calls int64
	}{
		{"everything", volume.Whole(s), 4},
		{"two whole planes", box(1, 3, 0, 6, 0, 5), 2},
		{"whole rows of three planes", box(0, 3, 2, 4, 0, 5), 3},
		{"an xz plane", box(0, 4, 3, 4, 0, 5), 4},
		{"a yz plane", box(0, 4, 0, 6, 2, 3), 24},
		{"a block", box(1, 3, 1, 4, 1, 4), 6},
		{"one voxel", box(2, 3, 5, 6, 4, 5), 1},
		{"one row", box(2, 3, 5, 6, 0, 5), 1},
		{"part of one row", box(2, 3, 5, 6, 1, 3), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := &countingReader{r: f.f}
			f.r = cr
			if _, err := f.Read(context.Background(), c.box); err != nil {
				t.Fatal(err)
			}
			if n, want := cr.bytes.Load(), int64(c.box.Shape().Len()*2); cr.calls.Load() != c.calls || n != want {
				t.Errorf("%d reads of %d bytes, want %d of %d", cr.calls.Load(), n, c.calls, want)
			}
		})
	}
}

// TestReadConcurrent reads many boxes from many goroutines at once (run
// with -race) and compares them with the volume written.
func TestReadConcurrent(t *testing.T) {
	s := volume.Shape{Z: 6, Y: 20, X: 17}
	for _, dt := range []volume.DType{volume.Float32, volume.Uint8} {
		t.Run(dt.String(), func(t *testing.T) {
			p, v := writeTestFile(t, t.TempDir(), dt, s)
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			boxes := shapeBoxes(s)
			var wg sync.WaitGroup
			errs := make(chan error, 8*len(boxes))
			for g := range 8 {
				wg.Go(func() {
					for i := range boxes {
						b := boxes[(i+g)%len(boxes)]
						got, err := f.Read(context.Background(), b)
						if err != nil {
							errs <- err
							return
						}
						want, _ := v.Read(context.Background(), b)
						var w []float64
						ws := want.Shape()
						for z := range ws.Z {
							for y := range ws.Y {
								for x := range ws.X {
									w = append(w, want.At(z, y, x))
								}
							}
						}
						if d := sameValues(got, w); d != "" {
							errs <- fmt.Errorf("box %v: %s", b, d)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestReadCancel checks that a cancelled context stops a read before it
// starts and between sections.
func TestReadCancel(t *testing.T) {
	s := volume.Shape{Z: 5, Y: 4, X: 3}
	p, _ := writeTestFile(t, t.TempDir(), volume.Int16, s)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cr := &countingReader{r: f.f}
	f.r = cr
	if _, err := f.Read(ctx, volume.Whole(s)); !errors.Is(err, context.Canceled) || cr.calls.Load() != 0 {
		t.Errorf("cancelled before: %v after %d reads", err, cr.calls.Load())
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	cr = &countingReader{r: f.f, hook: cancel}
	f.r = cr
	if _, err := f.Read(ctx, volume.Whole(s)); !errors.Is(err, context.Canceled) || cr.calls.Load() != 1 {
		t.Errorf("cancelled during: %v after %d reads, want context.Canceled after 1", err, cr.calls.Load())
	}
}

// TestReadBadBox checks that boxes outside the volume or empty are
// refused with an error naming the file.
func TestReadBadBox(t *testing.T) {
	s := volume.Shape{Z: 3, Y: 4, X: 5}
	p, _ := writeTestFile(t, t.TempDir(), volume.Float32, s)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, b := range []volume.Box{
		box(0, 4, 0, 4, 0, 5),
		box(-1, 1, 0, 4, 0, 5),
		box(0, 3, 0, 4, 5, 6),
		box(1, 1, 0, 4, 0, 5),
		box(2, 1, 0, 4, 0, 5),
		box(0, 3, 0, 0, 0, 5),
		{},
	} {
		_, err := f.Read(context.Background(), b)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "outside the volume") {
			t.Errorf("box %v: %v", b, err)
		}
	}
	// A box larger than the memory allowed is refused before allocating.
	defer func(old int64) { MaxReadBytes = old }(MaxReadBytes)
	MaxReadBytes = 4 * 20
	if _, err := f.Read(context.Background(), box(0, 1, 0, 4, 0, 5)); err != nil {
		t.Errorf("one plane: %v", err)
	}
	_, err = f.Read(context.Background(), box(0, 2, 0, 4, 0, 5))
	if want := "box 0:2,0:4,0:5 needs 160 B of memory, more than the 80 B allowed"; err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
		t.Errorf("two planes: %v, want %q", err, want)
	}
}

// TestReadAfterChange checks reads of a file closed, or shortened after it
// was opened: errors naming the file, no panic.
func TestReadAfterChange(t *testing.T) {
	s := volume.Shape{Z: 3, Y: 4, X: 5}
	p, _ := writeTestFile(t, t.TempDir(), volume.Float32, s)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(p, HeaderSize+4*20+7); err != nil {
		t.Fatal(err)
	}
	_, err = f.Read(context.Background(), volume.Whole(s))
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "section 1: bytes 1111 to 1184 are past the end of the file") {
		t.Errorf("shortened: %v", err)
	}
	_, err = f.Read(context.Background(), box(2, 3, 1, 2, 1, 3))
	if err == nil || !strings.Contains(err.Error(), "section 2 row 1: bytes 1208 to 1216 are past the end") {
		t.Errorf("shortened, one row: %v", err)
	}
	if _, err := f.Read(context.Background(), box(0, 1, 0, 4, 0, 5)); err != nil {
		t.Errorf("the part still there: %v", err)
	}
	f.Close()
	_, err = f.Read(context.Background(), volume.Whole(s))
	if err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, os.ErrClosed) {
		t.Errorf("closed: %v", err)
	}
}
