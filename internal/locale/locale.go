// Package locale runs before the GUI toolkit initialises and gives it a
// language it can parse: under the C/POSIX locale ("C.UTF-8", common on
// servers and in containers) Fyne logs an error at start-up for every
// command. Import it first, for its side effect only.
package locale

import (
	"os"
	"strings"
)

func init() {
	if os.Getenv("LANGUAGE") != "" {
		return
	}
	for _, env := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "C.") || strings.HasPrefix(v, "POSIX.") {
			os.Setenv("LANGUAGE", "en")
		}
		return
	}
}
