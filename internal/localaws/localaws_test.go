package localaws

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestStartAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Java and Node servers")
	}
	s, err := Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, ep := range []string{s.DynamoDB, s.SQS} {
		if !strings.HasPrefix(ep, "http://127.0.0.1:") {
			t.Errorf("endpoint %s is not loopback", ep)
		}
		resp, err := http.Get(ep)
		if err != nil {
			t.Fatalf("%s: %v", ep, err)
		}
		resp.Body.Close()
	}
}
