package volume

import "testing"

// TestHistogramNoComb checks that integer data with few levels fills every
// display bin evenly, whatever the number of bins asked for.
func TestHistogramNoComb(t *testing.T) {
	data := make([]uint8, 256*4) // every value 0…255 four times
	for i := range data {
		data[i] = uint8(i % 256)
	}
	v, err := New(Shape{Z: 4, Y: 16, X: 16}, data, Voxel{})
	if err != nil {
		t.Fatal(err)
	}
	st := v.Stats()
	for _, c := range []struct{ limit, bins, per int }{
		{360, 256, 1}, {256, 256, 1}, {128, 128, 2}, {100, 86, 3}, {16, 16, 16},
	} {
		n := st.Bins(c.limit)
		if n != c.bins {
			t.Errorf("Bins(%d) = %d, want %d", c.limit, n, c.bins)
			continue
		}
		h := st.Histogram(n)
		for k, cnt := range h {
			want := int64(4 * c.per)
			if k == n-1 {
				want = int64(4 * (256 - (n-1)*c.per))
			}
			if cnt != want {
				t.Errorf("Bins(%d): bin %d holds %d, want %d", c.limit, k, cnt, want)
				break
			}
		}
	}
}
