package cutover

import "time"

// Defaults of the config keys, in one place so docs and code agree.
const (
	DefaultConfigFile    = "cutover.yaml"
	DefaultListen        = "127.0.0.1:8080"
	DefaultAdminListen   = "127.0.0.1:9090"
	DefaultMetricsListen = "127.0.0.1:9091"
	DefaultDBPath        = "cutover.db"
	DefaultStatusPrefix  = "/_cutover"
	DefaultRegion        = "us-east-1"
	DefaultTable         = "cutover"
	DefaultQueuePrefix   = "cutover-"
)

// SetDefaults fills every zero field with its default.
func (c *Config) SetDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defDur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	defSize := func(b *ByteSize, v ByteSize) {
		if *b == 0 {
			*b = v
		}
	}
	def(&c.Listen, DefaultListen)
	def(&c.Admin.Listen, DefaultAdminListen)

	def(&c.Backend.Kind, BackendEmbedded)
	def(&c.Backend.Path, DefaultDBPath)
	def(&c.Backend.Durability, "full")
	def(&c.Backend.Region, DefaultRegion)
	def(&c.Backend.Table, DefaultTable)
	def(&c.Backend.QueuePrefix, DefaultQueuePrefix)

	defSize(&c.Proxy.CaptureLimit, 1<<20)
	defInt(&c.Proxy.Buffer, 10000)
	defInt(&c.Proxy.BatchSize, 256)
	defDur(&c.Proxy.BatchDelay, 10*time.Millisecond) // shadow events wait this long at most; fuller batches cost the primary less
	defDur(&c.Proxy.LegacyTimeout, 30*time.Second)
	defInt(&c.Proxy.IdleConnsPerHost, 256)
	def(&c.Proxy.StatusPrefix, DefaultStatusPrefix)
	defDur(&c.Proxy.LivePublishTimeout, 5*time.Second)
	defDur(&c.Proxy.FlagRefresh, time.Second)

	def(&c.Worker.MetricsListen, DefaultMetricsListen)
	defInt(&c.Worker.Concurrency, 8)
	defInt(&c.Worker.MaxAttempts, 5)
	defDur(&c.Worker.Visibility, 30*time.Second)
	defDur(&c.Worker.Backoff.Initial, 200*time.Millisecond)
	defDur(&c.Worker.Backoff.Max, 30*time.Second)
	if c.Worker.Backoff.Multiplier == 0 {
		c.Worker.Backoff.Multiplier = 2
	}
	if c.Worker.Backoff.Jitter == 0 {
		c.Worker.Backoff.Jitter = 0.2
	}
	defDur(&c.Worker.Timeout, 30*time.Second)
	defDur(&c.Worker.PollWait, time.Second)
	defDur(&c.Worker.ShutdownGrace, 10*time.Second)
	defSize(&c.Worker.InlineLimit, 64<<10)
	defSize(&c.Worker.MaxBody, 10<<20)

	defDur(&c.Comparator.AsyncDeadline, 5*time.Minute)
	defDur(&c.Comparator.SweepInterval, 10*time.Second)

	def(&c.Log.Level, "info")
	def(&c.Log.Format, "json")

	for i := range c.Workflows {
		w := &c.Workflows[i]
		if w.Mode == "" {
			w.Mode = ModeShadow
		}
		def(&w.Response, ResponseAwait)
		defDur(&w.AwaitTimeout, 5*time.Second)
		def(&w.Salt, w.Name)
		g := &w.Gate
		if g.MinComparisons == 0 {
			g.MinComparisons = gateDefaults.MinComparisons
		}
		if g.MinMatchRate == 0 {
			g.MinMatchRate = gateDefaults.MinMatchRate
		}
		defDur(&g.Window, gateDefaults.Window.D())
	}
}
