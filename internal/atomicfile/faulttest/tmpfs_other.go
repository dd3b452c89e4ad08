//go:build !linux

package faulttest

import "testing"

// Tmpfs skips the test: tmpfs is mounted on Linux only.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	t.Skip("skipping: a small tmpfs to fill up is mounted on Linux only")
	return ""
}
