package comparator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover"
)

// Paths that are not in a body.
const (
	StatusPath   = "status"
	HeaderPrefix = "header."
	BodyPath     = "$" // a whole body that is not JSON
)

// maxReason bounds the error text copied from an outcome into Reason.
const maxReason = 300

// Compare decides the verdict for one outcome pair and lists what differs.
// It is pure apart from the clock and never fails: what cannot be compared
// gets a verdict that says why.
func (r *Rules) Compare(pair cutover.OutcomePair) *cutover.Comparison {
	c, _ := r.compare(pair, false)
	return c
}

func (r *Rules) compare(pair cutover.OutcomePair, align bool) (*cutover.Comparison, *bodies) {
	c := &cutover.Comparison{
		EventID:    pair.EventID,
		Epoch:      pair.Epoch,
		Workflow:   pair.Workflow,
		ComparedAt: r.now().UTC(),
	}
	if pair.Legacy != nil {
		c.LegacyLatency = pair.Legacy.Latency
	}
	if pair.Async != nil {
		c.AsyncLatency = pair.Async.Latency
	}
	if v, why := precheck(pair.Legacy, pair.Async); v != "" {
		c.Verdict, c.Reason = v, why
		return c, nil
	}
	d := &differ{r: r, align: align}
	r.compareStatus(d, pair.Legacy.Status, pair.Async.Status)
	r.compareHeaders(d, pair.Legacy, pair.Async)
	b, why := d.body(pair.Legacy, pair.Async)
	if why != "" {
		c.Verdict, c.Reason = cutover.VerdictNotComparable, why
		return c, b
	}
	for _, e := range d.diffs {
		c.Diffs = append(c.Diffs, cutover.PathDiff{Path: e.path, Legacy: e.legacy, Async: e.async})
	}
	c.Verdict = cutover.VerdictMatch
	if d.total > 0 {
		c.Verdict = cutover.VerdictMismatch
		c.Reason = mismatchReason(d)
	}
	return c, b
}

// precheck returns the verdict of a pair in which a side did not produce a
// response, with the reason; "" when both sides can be compared. A skipped
// side wins: nothing was expected of it.
func precheck(legacy, async *cutover.Outcome) (cutover.Verdict, string) {
	switch {
	case legacy != nil && legacy.Skipped != "":
		return cutover.VerdictNotComparable, "legacy was not run: " + clip(legacy.Skipped)
	case async != nil && async.Skipped != "":
		return cutover.VerdictNotComparable, "async was not run: " + clip(async.Skipped)
	case legacy == nil:
		return cutover.VerdictLegacyError, "no legacy outcome was recorded"
	case legacy.Error != "":
		return cutover.VerdictLegacyError, "legacy failed: " + clip(legacy.Error)
	case legacy.Missing:
		return cutover.VerdictLegacyError, "no legacy outcome arrived before the deadline"
	case async == nil || async.Missing:
		return cutover.VerdictAsyncMissing, "no async outcome arrived before the deadline"
	case async.Error != "":
		return cutover.VerdictAsyncError, "async failed: " + clip(async.Error)
	}
	return "", ""
}

func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

func (r *Rules) compareStatus(d *differ, legacy, async int) {
	if async == r.expectedStatus(legacy) {
		return
	}
	e := diffEntry{
		path:   StatusPath,
		legacy: json.RawMessage(strconv.Itoa(legacy)),
		async:  json.RawMessage(strconv.Itoa(async)),
	}
	if want := r.expectedStatus(legacy); want != legacy {
		e.note = fmt.Sprintf(" (status_map expects %d)", want)
	}
	d.total++
	d.diffs = append(d.diffs, e)
}

// compareHeaders compares the allow-listed headers only; a header's values
// are joined with ", " as HTTP allows.
func (r *Rules) compareHeaders(d *differ, legacy, async *cutover.Outcome) {
	for _, name := range r.headers {
		lv, lok := headerValue(legacy, name)
		av, aok := headerValue(async, name)
		if lok == aok && lv == av {
			continue
		}
		e := diffEntry{path: HeaderPrefix + name}
		if lok {
			e.legacy = json.RawMessage(quote(lv))
		}
		if aok {
			e.async = json.RawMessage(quote(av))
		}
		d.total++
		if len(d.diffs) < MaxDiffs {
			d.diffs = append(d.diffs, e)
		}
	}
}

func headerValue(o *cutover.Outcome, name string) (string, bool) {
	vs := o.Header.Values(name) // canonical lookup; o.Header may be nil
	if len(vs) == 0 {
		// Headers recorded by hand may not be canonical.
		for k, v := range o.Header {
			if strings.EqualFold(k, name) {
				vs = append(vs, v...)
			}
		}
	}
	if len(vs) == 0 {
		return "", false
	}
	return strings.Join(vs, ", "), true
}

// bodies holds the parsed bodies for Explain.
type bodies struct {
	legacy, async node
	json          bool
}

// body compares the two bodies: structurally when both are JSON, as bytes
// otherwise. why is set when a body is only a claim check that was not
// loaded and the references alone cannot decide.
func (d *differ) body(legacy, async *cutover.Outcome) (*bodies, string) {
	lb, ab := legacy.Body, async.Body
	if len(lb) == 0 && legacy.BodyRef != "" || len(ab) == 0 && async.BodyRef != "" {
		lref, aref := bodyRef(legacy), bodyRef(async)
		if lref == aref {
			return nil, "" // content-addressed: the same bytes
		}
		return nil, "a body is stored as a blob (" + pick(legacy.BodyRef, async.BodyRef) + ") that was not loaded"
	}
	b := &bodies{}
	var lok, aok bool
	if len(lb) > 0 && len(ab) > 0 {
		var p parser
		b.legacy, lok = p.parse(lb)
		if lok {
			b.async, aok = p.parse(ab)
		}
	}
	if lok && aok {
		b.json = true
		d.node(&b.legacy, &b.async, d.r.root())
		return b, ""
	}
	if !bytes.Equal(lb, ab) {
		d.total++
		d.diffs = append(d.diffs, diffEntry{path: BodyPath, legacy: rawBody(lb), async: rawBody(ab)})
	}
	return b, ""
}

func bodyRef(o *cutover.Outcome) string {
	if len(o.Body) == 0 && o.BodyRef != "" {
		return o.BodyRef
	}
	return cutover.BlobRef(o.Body)
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rawBody is a non-JSON body as a diff value: its text as a JSON string when
// it is UTF-8, else {"base64": ...} (cutover.Body's encoding), bounded by
// MaxDiffValue. A JSON body on the other side of a non-JSON one is kept as
// its canonical JSON.
func rawBody(b []byte) json.RawMessage {
	if n, ok := parse(b); ok {
		return diffValue(&n)
	}
	if len(b) > MaxDiffValue {
		return truncated("body", len(b))
	}
	out, _ := json.Marshal(cutover.Body(b)) // cannot fail
	if b == nil {
		out = []byte(`""`)
	}
	return out
}

// mismatchReason summarises a mismatch in a line, spelling out null against
// absent, which canonical JSON alone does not make obvious.
func mismatchReason(d *differ) string {
	var parts []string
	for i, e := range d.diffs {
		if i == 3 {
			break
		}
		parts = append(parts, describe(e))
	}
	s := fmt.Sprintf("%d difference", d.total)
	if d.total != 1 {
		s += "s"
	}
	s += ": " + strings.Join(parts, "; ")
	if d.total > 3 {
		s += "; …"
	}
	if d.total > len(d.diffs) {
		s += fmt.Sprintf(" (first %d recorded)", len(d.diffs))
	}
	return s
}

func describe(e diffEntry) string {
	side := func(v json.RawMessage) string {
		if v == nil {
			return "absent"
		}
		if string(v) == "null" {
			return "null"
		}
		return "present"
	}
	switch {
	case e.legacy == nil || e.async == nil || string(e.legacy) == "null" || string(e.async) == "null":
		return fmt.Sprintf("%s is %s in legacy, %s in async", e.path, side(e.legacy), side(e.async))
	case e.path == StatusPath:
		return fmt.Sprintf("status is %s in legacy, %s in async%s", e.legacy, e.async, e.note)
	}
	return e.path + " differs"
}
