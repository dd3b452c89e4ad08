// Package cutf8 works around Fyne logging "Error parsing user locale C" at
// start-up where the locale is C.UTF-8 or POSIX.UTF-8 (the default of many
// containers and CI images): Fyne reads the language from LANGUAGE when
// that is set, so for these locales the package sets LANGUAGE=en, which
// only affects message translation. It must be imported (blank) by the
// package that imports Fyne; it imports nothing but syscall, so Go
// initialises it before Fyne's language package, which reads the
// environment in its init function.
package cutf8

import (
	"strings"
	"syscall"
)

func init() {
	if v, ok := syscall.Getenv("LANGUAGE"); ok && v != "" {
		return
	}
	locale := ""
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v, ok := syscall.Getenv(k); ok && v != "" {
			locale = v
			break
		}
	}
	if strings.HasPrefix(locale, "C.") || strings.HasPrefix(locale, "POSIX.") {
		_ = syscall.Setenv("LANGUAGE", "en")
	}
}
