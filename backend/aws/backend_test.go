package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cutover-dev/cutover"
)

// TestOpenEndpoints checks how BackendConfig maps onto the three clients:
// one endpoint for all, per-service overrides, and path-style S3 by default
// only with an endpoint. Open sends no request.
func TestOpenEndpoints(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name         string
		bc           cutover.BackendConfig
		sqs, ddb, s3 string
		pathStyle    bool
	}{
		{"AWS itself", cutover.BackendConfig{}, "", "", "", false},
		{"one endpoint", cutover.BackendConfig{Endpoint: "http://127.0.0.1:4566"}, "http://127.0.0.1:4566", "http://127.0.0.1:4566", "http://127.0.0.1:4566", true},
		{"overrides", cutover.BackendConfig{Endpoint: "http://127.0.0.1:4566", DynamoDBEndpoint: "http://127.0.0.1:8000"},
			"http://127.0.0.1:4566", "http://127.0.0.1:8000", "http://127.0.0.1:4566", true},
		{"S3 endpoint only", cutover.BackendConfig{S3Endpoint: "http://127.0.0.1:9000"}, "", "", "http://127.0.0.1:9000", true},
		{"path style off", cutover.BackendConfig{Endpoint: "http://127.0.0.1:4566", PathStyle: &no}, "http://127.0.0.1:4566", "http://127.0.0.1:4566", "http://127.0.0.1:4566", false},
		{"path style on", cutover.BackendConfig{PathStyle: &yes}, "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.bc.Table, tc.bc.Bucket = "t-table", "t-bucket"
			b, err := Open(context.Background(), tc.bc, Options{Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if got := deref(b.sqs.Options().BaseEndpoint); got != tc.sqs {
				t.Errorf("SQS endpoint %q, want %q", got, tc.sqs)
			}
			if got := deref(b.ddb.Options().BaseEndpoint); got != tc.ddb {
				t.Errorf("DynamoDB endpoint %q, want %q", got, tc.ddb)
			}
			if got := deref(b.s3.Options().BaseEndpoint); got != tc.s3 {
				t.Errorf("S3 endpoint %q, want %q", got, tc.s3)
			}
			if got := b.s3.Options().UsePathStyle; got != tc.pathStyle {
				t.Errorf("path style %v, want %v", got, tc.pathStyle)
			}
			if got := b.s3.Options().Region; got != cutover.DefaultRegion {
				t.Errorf("region %q, want the default %q", got, cutover.DefaultRegion)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		bc   cutover.BackendConfig
		opt  Options
		want string
	}{
		{"no table", cutover.BackendConfig{Bucket: "b"}, Options{}, "backend.table"},
		{"no bucket", cutover.BackendConfig{Table: "t"}, Options{}, "backend.bucket"},
		{"bad option", cutover.BackendConfig{Table: "t", Bucket: "b"}, Options{Retention: -time.Hour}, "Retention"},
		{"inline limit", cutover.BackendConfig{Table: "t", Bucket: "b"}, Options{ItemInlineLimit: 1 << 20}, "ItemInlineLimit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.bc, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestKeyParts(t *testing.T) {
	for _, s := range []string{"plain", "a#b", "100%", "%23", "#%#", ""} {
		if got := unesc(esc(s)); got != s {
			t.Errorf("unesc(esc(%q)) = %q", s, got)
		}
		if strings.Contains(esc(s), "#") {
			t.Errorf("esc(%q) = %q keeps a separator", s, esc(s))
		}
	}
	if padInt(42, 5) != "00042" || padNanos(1) != strings.Repeat("0", 19)+"1" || padEpoch(-3) != "0000000000" {
		t.Error("padding")
	}
	if a, b := padNanos(999), padNanos(1000); a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
}
