package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/niiv/niiv/reconstruct"
)

// TestAdaptRefusesBadNumbers checks that adapt refuses values that mean
// nothing (before loading anything), instead of training forever or
// quietly using the defaults.
func TestAdaptRefusesBadNumbers(t *testing.T) {
	vol := filepath.Join(t.TempDir(), "none.npy") // never opened
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--seconds", "nan"}, "--seconds NaN: must be a finite number up to 1e+09"},
		{[]string{"--seconds", "inf"}, "--seconds +Inf: must be a finite number"},
		{[]string{"--seconds", "-Inf", "--steps", "3"}, "--seconds -Inf: must be a finite number"},
		{[]string{"--seconds", "1e300"}, "--seconds 1e+300: must be a finite number up to 1e+09"},
		{[]string{"--batch", "-1"}, "--batch -1: must be at least 1"},
		{[]string{"--batch", "0"}, "--batch 0: must be at least 1"},
		{[]string{"--crop", "0"}, "--crop 0: must be a positive number of pixels"},
		{[]string{"--crop", "-128"}, "--crop -128: must be a positive number of pixels"},
		{[]string{"--pool", "0"}, "--pool 0: must be at least 1"},
		{[]string{"--points", "-2"}, "--points -2: must be -1 (every pixel), 0 (by the model's size) or a positive number"},
		{[]string{"--train", "encoder"}, `--train "encoder": want whole, decoder, scratch or auto`},
		{[]string{"--hold-out", "-2"}, "--hold-out -2"},
		{[]string{"--patience", "-3"}, "--patience -3"},
		{[]string{"--lr", "-1"}, "--lr -1: must be a positive finite number"},
		{[]string{"--lr", "NaN"}, "--lr NaN: must be a positive finite number"},
		{[]string{"--lr", "inf"}, "--lr +Inf: must be a positive finite number"},
		{[]string{"--steps", "-5"}, "--steps -5: must be at least 0 (0: no limit)"},
		{[]string{"--factor", "1"}, "--factor 1: must be at least 2"},
		{[]string{"--factor", "-8"}, "--factor -8: must be at least 2"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, o, e := run(append([]string{"adapt", vol}, c.args...)...)
			if code != 2 || !strings.Contains(e, c.want) || !strings.Contains(e, "usage: niiv adapt") {
				t.Fatalf("exit %d (want 2)\nstdout: %s\nstderr: %s\nwant %q", code, o, e, c.want)
			}
		})
	}
}

// TestAdaptCropFitsPlanes checks that a --crop given must fit the volume's
// xy planes and hold two rows at the factor; the default shrinks to fit.
func TestAdaptCropFitsPlanes(t *testing.T) {
	if _, err := reconstruct.FindLibrary(); err != nil {
		t.Skipf("skipping: ONNX Runtime library not found: %v", err)
	}
	dir := t.TempDir()
	_, low := degradedSample(t, dir)
	model := filepath.Join("..", "testdata", "tiny-model")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"too large", []string{"--crop", "1000"}, 2, "--crop 1000: must be between 8 (twice the factor 4) and 32 (the xy planes are 32×32)"},
		{"too small", []string{"--crop", "7"}, 2, "--crop 7: must be between 8 (twice the factor 4) and 32"},
		{"default shrinks", nil, 0, "1 step in"},
		{"fits", []string{"--crop", "16"}, 0, "1 crop of 16² per step"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"adapt", low, "--model", model, "--steps", "1", "--seconds", "0", "--batch", "1",
				"--out", filepath.Join(dir, "adapted")}, c.args...)
			code, o, e := run(args...)
			if code != c.code || !strings.Contains(o+e, c.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, c.code, o, e, c.want)
			}
		})
	}
}
