package cli

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFigure(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		code     int
		w, h     int
		inStdout string
	}{
		{"xz montage", []string{"--view", "xz", "--slice", "64", "--mode", "linear,nearest", "--zoom", "2", "--size", "604x300"}, 0, 604, 300, "linear 300×300 px"},
		{"fractional xy", []string{"--view", "xy", "--slice", "7.5", "--mode", "linear", "--size", "200x100", "--colormap", "magma"}, 0, 200, 100, "linear"},
		{"layout", []string{"--view", "layout", "--mode", "nearest", "--size", "402x302"}, 0, 402, 302, "layout"},
		{"centred on a point", []string{"--view", "xz", "--at", "3.5,40,100", "--zoom", "4", "--size", "300x200", "--mode", "linear"}, 0, 300, 200, "linear 300×200 px"},
		{"three panels fill the width", []string{"--view", "xz", "--mode", "linear,nearest,linear", "--size", "601x200"}, 0, 601, 200, "linear 197×197 px"},
		{"niiv without its model", []string{"--view", "xz", "--mode", "linear,niiv"}, 1, 0, 0, ""},
		{"gamma zero", []string{"--gamma", "0", "--mode", "linear"}, 2, 0, 0, ""},
		{"gamma nan", []string{"--gamma", "NaN", "--mode", "linear"}, 2, 0, 0, ""},
		{"not png", []string{"--mode", "linear", "--out", filepath.Join(dir, "f.jpg")}, 2, 0, 0, ""},
		{"layout of two modes", []string{"--view", "layout", "--mode", "linear,nearest"}, 2, 0, 0, ""},
		{"bad size", []string{"--size", "12"}, 2, 0, 0, ""},
		{"point outside", []string{"--at", "99,0,0"}, 2, 0, 0, ""},
		{"bad mode", []string{"--mode", "sharpest"}, 2, 0, 0, ""},
		{"slice out of range", []string{"--view", "yz", "--slice", "500"}, 2, 0, 0, ""},
		{"fractional xz", []string{"--view", "xz", "--slice", "3.5"}, 2, 0, 0, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".png")
			args := append([]string{"figure", SampleName, "--out", out, "--model", filepath.Join(dir, "no-such-model")}, tc.args...)
			defer func() {
				if _, err := os.Stat(out); tc.code != 0 && err == nil {
					t.Errorf("a failed run wrote %s", out)
				}
			}()
			code, stdout, stderr := run(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr)
			}
			if tc.code != 0 {
				return
			}
			if !strings.Contains(stdout, tc.inStdout) {
				t.Errorf("stdout %q lacks %q", stdout, tc.inStdout)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("figure %d: %v, want %dx%d", i, b, tc.w, tc.h)
			}
		})
	}
}
