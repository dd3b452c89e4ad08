package tensor

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		shape []int
		n     int
	}{{[]int{3}, 3}, {[]int{2, 3}, 6}, {[]int{1, 2, 2, 2}, 8}, {[]int{0, 4}, 0}}
	for _, c := range cases {
		v := make([]float32, c.n)
		for i := range v {
			v[i] = float32(i) - 1.5
		}
		got, shape, err := DecodeNPY(EncodeNPY(v, c.shape...))
		if err != nil || !reflect.DeepEqual(shape, c.shape) || len(got) != len(v) {
			t.Fatalf("%v: got %v %v %v", c.shape, got, shape, err)
		}
		for i := range v {
			if got[i] != v[i] {
				t.Fatalf("%v: value %d: %v != %v", c.shape, i, got[i], v[i])
			}
		}
	}
}

func TestBad(t *testing.T) {
	good := EncodeNPY([]float32{1, 2}, 2)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XNUMPY"), good[6:]...),
		"truncated": good[:len(good)-1],
		"header":    good[:20],
	} {
		if _, _, err := DecodeNPY(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
