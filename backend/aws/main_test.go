package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/internal/localaws"
)

// The local DynamoDB Local and fauxqs that every test of the package
// shares; each test uses its own table, bucket and queue prefix. They start
// with the first test that needs them (fuzzing and -short runs need none)
// and stop when the tests end.
var (
	serversOnce sync.Once
	servers     *localaws.Servers
	serversErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if servers != nil {
		servers.Stop()
	}
	os.Exit(code)
}

// needServers starts the servers once, or skips the test in -short mode.
func needServers(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local AWS servers (skipped with -short)")
	}
	serversOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		servers, serversErr = localaws.Start(ctx, os.Stderr)
	})
	if serversErr != nil {
		t.Fatalf("local AWS servers: %v", serversErr)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testConfig names fresh resources on the local servers.
func testConfig(t testing.TB) cutover.BackendConfig {
	t.Helper()
	needServers(t)
	id := randHex(4)
	return cutover.BackendConfig{
		Kind: cutover.BackendAWS, Region: "us-east-1",
		SQSEndpoint: servers.SQS, DynamoDBEndpoint: servers.DynamoDB, S3Endpoint: servers.S3,
		Table: "cutover-" + id, Bucket: "cutover-" + id, QueuePrefix: "t" + id + "-",
	}
}

// testOptions retry fast, with static dummy credentials.
func testOptions() Options {
	return Options{
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryBase:   2 * time.Millisecond,
		MaxBackoff:  50 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// openTest opens a backend on fresh resources, creates the table and the
// bucket, and closes it when the test ends.
func openTest(t testing.TB, bc cutover.BackendConfig, opt Options) *Backend {
	t.Helper()
	needServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Open(ctx, bc, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if _, err := b.initTable(ctx, false); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := b.initBucket(ctx, false); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return b
}

// testContext bounds one test's calls.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// loopbackOnly fails a request to anything but the local servers.
type loopbackOnly struct{ next http.RoundTripper }

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if h := r.URL.Hostname(); h != "127.0.0.1" && h != "localhost" {
		return nil, fmt.Errorf("test transport: %s is not a local server", r.URL.Host)
	}
	return l.next.RoundTrip(r)
}
