// Command lambda is a cutover worker as an AWS Lambda function: the SQS
// event source mapping delivers the messages of the create-order respond
// queue, and a Go handler is the new implementation. See README.md for the
// deployment steps.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/cutover-dev/cutover"
	cutoverlambda "github.com/cutover-dev/cutover/lambda"
	"github.com/cutover-dev/cutover/pipeline"
)

// createOrder is the new implementation of POST /orders. In shadow mode it
// must not touch the world: it records the effect it would have had.
func createOrder(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
	var req struct {
		CustomerID string `json:"customer_id"`
		Items      []struct {
			SKU string `json:"sku"`
			Qty int    `json:"qty"`
		} `json:"items"`
	}
	if err := json.Unmarshal(ev.Request.Body, &req); err != nil || req.CustomerID == "" {
		// A bad request is an outcome to compare (legacy answers 400 too),
		// not a failure to retry.
		return &cutover.Outcome{Status: 400, Body: cutover.Body(`{"error":"invalid order"}`)}, nil
	}
	if ev.Mode == cutover.EventShadow {
		cutover.RecordEffect(ctx, "email", "order confirmation to "+req.CustomerID)
	}
	// (In live mode the confirmation would be sent here.)
	body, err := json.Marshal(map[string]any{"customer_id": req.CustomerID, "items": len(req.Items), "status": "created"})
	if err != nil {
		return nil, cutover.Permanent(err)
	}
	return &cutover.Outcome{Status: 201, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: body}, nil
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// Cold start: load the config and open the backend once; warm
	// invocations reuse them.
	cfg, err := cutoverlambda.LoadConfig()
	if err != nil {
		fail(log, err)
	}
	fn, err := cutoverlambda.New(context.Background(), cfg, cutoverlambda.Options{
		Handlers: map[pipeline.StepRef]pipeline.Handler{
			{Workflow: "create-order", Step: cutover.RespondStep}: pipeline.HandlerFunc(createOrder),
		},
		Logger: log,
	})
	if err != nil {
		fail(log, err)
	}
	awslambda.Start(fn.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("cannot start", "err", err)
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
