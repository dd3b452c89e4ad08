package app

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
)

// ErrNoDisplay is returned by CheckDisplay and Run when no window can be
// opened.
var ErrNoDisplay = errors.New("no display to open a window on")

// CheckDisplay reports, before anything slow is loaded, whether a window
// can be opened: on Linux and the BSDs the viewer needs an X11 server
// (DISPLAY; Wayland desktops provide one through XWayland). Elsewhere it
// returns nil. The error says what to do instead.
func CheckDisplay() error { return checkDisplay(runtime.GOOS, os.Getenv) }

func checkDisplay(goos string, getenv func(string) string) error {
	switch goos {
	case "darwin", "windows", "android", "ios", "js":
		return nil
	}
	if getenv("DISPLAY") != "" {
		return nil
	}
	why := "DISPLAY is not set"
	if getenv("WAYLAND_DISPLAY") != "" {
		why = "DISPLAY is not set (a Wayland session without XWayland)"
	}
	return fmt.Errorf("%w: %s; run it on a desktop, with ssh -X, or under xvfb-run; "+
		"`niiv figure` renders the same views to PNG files without a display", ErrNoDisplay, why)
}

// windowPanic turns a panic of the window loop into an error. Before the
// window system has started (started false: no X server at DISPLAY, no
// OpenGL driver) the windowing library panics, and the error says what to
// check. Once it has started, a panic is a bug in the viewer: the error
// carries the panic and the stack where it happened, for the report.
func windowPanic(err *error, started *atomic.Bool) {
	r := recover()
	if r == nil {
		return
	}
	if !started.Load() {
		*err = fmt.Errorf("%w: the window system did not start (%v); check DISPLAY (%q) and the OpenGL driver, "+
			"or use `niiv figure` to render without a window", ErrNoDisplay, r, os.Getenv("DISPLAY"))
		return
	}
	// Deferred calls run on top of the panicking frames, so this stack
	// still shows where the panic was raised.
	*err = fmt.Errorf("viewer: internal error: %v\n%s\nplease report this, with the lines above", r, debug.Stack())
}
