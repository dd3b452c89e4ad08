package app

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckDisplay(t *testing.T) {
	for _, c := range []struct {
		goos, display, wayland string
		want                   string // "" for no error, else part of the message
	}{
		{"linux", ":0", "", ""},
		{"linux", "", "", "DISPLAY is not set"},
		{"linux", "", "wayland-0", "without XWayland"},
		{"freebsd", "", "", "DISPLAY is not set"},
		{"darwin", "", "", ""},
		{"windows", "", "", ""},
	} {
		env := map[string]string{"DISPLAY": c.display, "WAYLAND_DISPLAY": c.wayland}
		err := checkDisplay(c.goos, func(k string) string { return env[k] })
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s DISPLAY=%q: unexpected error %v", c.goos, c.display, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrNoDisplay)):
			t.Errorf("%s DISPLAY=%q WAYLAND_DISPLAY=%q: error %v, want one containing %q", c.goos, c.display, c.wayland, err, c.want)
		}
	}
}

func TestWindowPanic(t *testing.T) {
	f := func() (err error) {
		defer windowPanic(&err)
		panic("NotInitialized: The GLFW library is not initialized")
	}
	err := f()
	if !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "GLFW") {
		t.Fatalf("got %v", err)
	}
}
