package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// shadowCounts are a cutover target's shadow counters.
type shadowCounts struct{ published, dropped, depth float64 }

func (c shadowCounts) minus(o shadowCounts) shadowCounts {
	return shadowCounts{published: c.published - o.published, dropped: c.dropped - o.dropped, depth: c.depth}
}

// scrape reads t's shadow counters from its /metrics; zero for targets
// without an admin listener.
func scrape(t target) shadowCounts {
	var c shadowCounts
	if t.admin == "" {
		return c
	}
	res, err := http.Get("http://" + t.admin + "/metrics")
	if err != nil {
		return c
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, _ = strings.Cut(line, "} ")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		switch name {
		case "cutover_proxy_shadow_published_total":
			c.published += v
		case "cutover_proxy_shadow_dropped_total":
			c.dropped += v
		case "cutover_proxy_buffer_depth":
			c.depth += v
		}
	}
	return c
}

// settle waits, up to 30 s, until t's shadow buffer is empty, then a
// second more for batches in flight; every target gets the same pause.
func settle(t target) {
	deadline := time.Now().Add(30 * time.Second)
	for t.admin != "" && scrape(t).depth > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
}
