package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// cpuTime is the user and system CPU of pid and its children still
// running (nginx's workers), from /proc; 0 where /proc is missing.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	total := procCPU(strconv.Itoa(pid))
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		if f := statFields(string(b)); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			total += ticks(f)
		}
	}
	return total
}

func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	return ticks(statFields(string(b)))
}

// statFields are the fields of a stat line after the command name, which
// may hold spaces: state, ppid, ... (utime and stime are 11 and 12).
func statFields(s string) []string {
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Fields(s)
}

func ticks(f []string) time.Duration {
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * clockTick
}
