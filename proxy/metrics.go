package proxy

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Route targets and the label of requests that match no workflow.
const (
	targetLegacy = "legacy"
	targetAsync  = "async"
	unmatched    = "(unmatched)"
)

// Reasons a request of a shadowed workflow was not mirrored.
const (
	reasonTooLarge         = "too_large"          // request body over proxy.capture_limit
	reasonIncomplete       = "incomplete_body"    // legacy answered before the whole body was sent
	reasonEncoded          = "encoded_body"       // a request Content-Encoding that redaction cannot see through
	reasonInvalidJSON      = "invalid_json"       // a body like JSON that does not parse, which redact.json cannot vouch for
	reasonAborted          = "aborted"            // the response was cut off (client gone, legacy died)
	reasonCanceled         = "canceled"           // the client went away before legacy answered
	reasonUpgrade          = "upgrade"            // protocol switch: there is no response to capture
	reasonBackgroundBusy   = "background_busy"    // too many background legacy calls of safe live requests
	reasonBackgroundFailed = "background_aborted" // the background legacy call of a safe live request was cut off
)

// Reasons a shadow event or legacy outcome was dropped after the request.
const (
	dropBufferFull    = "buffer_full"
	dropPublishFailed = "publish_failed"
	dropShutdown      = "shutdown"
)

// Reasons a live request was served by legacy instead.
const (
	fallbackPublishFailed = "publish_failed"
	fallbackTooLarge      = "too_large"
	fallbackUnknown       = "publish_unknown" // answered 503: the pipeline may have the event
)

// metrics of the proxy. Names follow cutover_<area>_<what>_<unit>.
type metrics struct {
	requests    *prometheus.CounterVec   // workflow, target, code (2xx..5xx)
	legacy      *prometheus.HistogramVec // workflow
	published   *prometheus.CounterVec   // workflow
	dropped     *prometheus.CounterVec   // workflow, reason
	notMirrored *prometheus.CounterVec   // workflow, reason
	fallbacks   *prometheus.CounterVec   // workflow, reason
	recordErrs  *prometheus.CounterVec   // workflow
	depth       prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, depth func() float64) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_proxy_requests_total", Help: "Requests served, by workflow, route target (legacy|async) and status class.",
		}, []string{"workflow", "target", "code"}),
		legacy: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cutover_proxy_legacy_duration_seconds", Help: "Legacy round trips, from sending the request to the end of the response.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"workflow"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_proxy_shadow_published_total", Help: "Shadow events handed to the pipeline.",
		}, []string{"workflow"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_proxy_shadow_dropped_total", Help: "Shadow events and legacy outcomes lost: buffer_full, publish_failed, shutdown.",
		}, []string{"workflow", "reason"}),
		notMirrored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_proxy_shadow_not_mirrored_total", Help: "Requests of mirrored workflows that were not mirrored, by reason.",
		}, []string{"workflow", "reason"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_proxy_live_fallbacks_total", Help: "Live requests served by legacy because the async path could not take them.",
		}, []string{"workflow", "reason"}),
		recordErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_proxy_outcome_errors_total", Help: "Legacy outcomes that could not be recorded or compared.",
		}, []string{"workflow"}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cutover_proxy_buffer_depth", Help: "Items waiting in the shadow buffer.",
		}, depth),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.legacy, m.published, m.dropped, m.notMirrored, m.fallbacks, m.recordErrs, m.depth)
	}
	return m
}

// routeMetrics holds one workflow's request counters and latency
// histogram, resolved once so that the request path does no label lookups.
type routeMetrics struct {
	requests [2][5]prometheus.Counter // [legacy, async][1xx..5xx]
	legacy   prometheus.Observer
}

func (m *metrics) route(workflow string) *routeMetrics {
	rm := &routeMetrics{legacy: m.legacy.WithLabelValues(workflow)}
	for t, target := range []string{targetLegacy, targetAsync} {
		for c := range 5 {
			rm.requests[t][c] = m.requests.WithLabelValues(workflow, target, strconv.Itoa(c+1)+"xx")
		}
	}
	return rm
}

func (rm *routeMetrics) count(target string, status int) {
	t := 0
	if target == targetAsync {
		t = 1
	}
	c := 4 // no response at all counts as a server error
	if status >= 100 && status <= 599 {
		c = status/100 - 1
	}
	rm.requests[t][c].Inc()
}
