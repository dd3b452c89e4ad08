package app

import (
	"errors"
	"fmt"
	"os"
	"runtime"
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

// windowPanic turns the panic the windowing library raises when it cannot
// start (no X server at DISPLAY, no OpenGL driver) into an error.
func windowPanic(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: the window system did not start (%v); check DISPLAY (%q) and the OpenGL driver, "+
			"or use `niiv figure` to render without a window", ErrNoDisplay, r, os.Getenv("DISPLAY"))
	}
}
