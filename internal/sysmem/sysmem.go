// Package sysmem reports the machine's physical memory, for budgets that
// scale with it (the largest volume to read, the latent cache).
package sysmem

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// Total returns the physical memory in bytes, or 0 where it cannot be read
// (only Linux's /proc/meminfo is read).
func Total() int64 { return fromMeminfo("/proc/meminfo") }

func fromMeminfo(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil || kb <= 0 {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// MaxAlloc is the most memory one reader should allocate for one result:
// three quarters of physical memory, 8 GiB where that cannot be read.
// Readers refuse larger boxes with an error rather than being killed.
func MaxAlloc() int64 {
	if total := Total(); total > 0 {
		return total / 4 * 3
	}
	return 8 << 30
}
