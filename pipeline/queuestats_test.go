package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cutover-dev/cutover"
)

func TestQueueCollector(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	e.publish(e.event("orders", "k1", `{}`), e.event("orders", "k2", `{}`))
	if err := e.stores.Queue.Send(context.Background(), cutover.DeadLetterName("orders", cutover.RespondStep), []cutover.OutgoingMessage{{ID: "x", Body: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewQueueCollector(e.cfg, e.stores.Queue))
	want := `
# HELP cutover_queue_messages Messages in a step's queue or dead-letter queue, by state (visible, in_flight, delayed).
# TYPE cutover_queue_messages gauge
cutover_queue_messages{queue="dlq",state="delayed",step="respond",workflow="orders"} 0
cutover_queue_messages{queue="dlq",state="in_flight",step="respond",workflow="orders"} 0
cutover_queue_messages{queue="dlq",state="visible",step="respond",workflow="orders"} 1
cutover_queue_messages{queue="main",state="delayed",step="respond",workflow="orders"} 0
cutover_queue_messages{queue="main",state="in_flight",step="respond",workflow="orders"} 0
cutover_queue_messages{queue="main",state="visible",step="respond",workflow="orders"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cutover_queue_messages"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "cutover_queue_oldest_message_age_seconds"); err != nil || n != 2 {
		t.Errorf("oldest age series = %d, %v", n, err)
	}
}
