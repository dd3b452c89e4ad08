package app

import (
	"errors"
	"strings"
	"sync/atomic"
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
	tests := []struct {
		name    string
		started bool
		panic   func()
		noDisp  bool     // the error wraps ErrNoDisplay
		want    []string // parts of the message
	}{
		{"window system fails to start", false,
			func() { panic("NotInitialized: The GLFW library is not initialized") },
			true, []string{"GLFW", "DISPLAY"}},
		{"bug once the window runs", true,
			func() { var m map[string]*int; _ = *m["mode"] },
			false, []string{"internal error", "nil pointer", "panicInWindow", "please report"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var started atomic.Bool
			started.Store(tc.started)
			err := panicInWindow(&started, tc.panic)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrNoDisplay) != tc.noDisp {
				t.Errorf("errors.Is(err, ErrNoDisplay) = %v, want %v: %v", !tc.noDisp, tc.noDisp, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// panicInWindow runs f as the window loop runs the viewer's callbacks.
func panicInWindow(started *atomic.Bool, f func()) (err error) {
	defer windowPanic(&err, started)
	f()
	return nil
}
