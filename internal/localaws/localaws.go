// Package localaws starts the real-protocol local AWS servers that cutover's
// tests run the AWS SDK against: DynamoDB Local (AWS's own jar, shipped in the
// npm package amplify-dynamodb-simulator) and fauxqs (SQS and S3 on one
// port). Both are pinned in testtools/localaws/package.json and its lockfile;
// Start installs them with npm ci when needed, starts them on free loopback
// ports and returns their endpoints. The servers die with the test process.
package localaws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/freeport"
)

// Servers are running local servers.
type Servers struct {
	DynamoDB string // endpoint URL
	SQS      string
	S3       string // same server as SQS
	procs    []*exec.Cmd
}

// Env names that point tests at servers started elsewhere instead.
const (
	EnvDynamoDB = "CUTOVER_TEST_DYNAMODB_ENDPOINT"
	EnvFauxqs   = "CUTOVER_TEST_FAUXQS_ENDPOINT"
)

// Start returns running servers: those named by the environment, or new
// ones. Output of the servers goes to logw (nil: discarded).
func Start(ctx context.Context, logw io.Writer) (*Servers, error) {
	if d, f := os.Getenv(EnvDynamoDB), os.Getenv(EnvFauxqs); d != "" && f != "" {
		return &Servers{DynamoDB: d, SQS: f, S3: f}, nil
	}
	if logw == nil {
		logw = io.Discard
	}
	dir, err := toolsDir()
	if err != nil {
		return nil, err
	}
	if err := requireTools(); err != nil {
		return nil, err
	}
	if err := install(ctx, dir, logw); err != nil {
		return nil, err
	}
	s := &Servers{}
	dport, err := freePort()
	if err != nil {
		return nil, err
	}
	emu := filepath.Join(dir, "node_modules", "amplify-dynamodb-simulator", "emulator")
	java := exec.Command("java", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-inMemory", "-port", strconv.Itoa(dport))
	java.Dir = emu
	if err := s.spawn(java, logw); err != nil {
		return nil, fmt.Errorf("localaws: start DynamoDB Local: %w", err)
	}
	fport, err := freePort()
	if err != nil {
		s.Stop()
		return nil, err
	}
	node := exec.Command("node", "fauxqs-loopback.mjs")
	node.Dir = dir
	node.Env = append(os.Environ(), "FAUXQS_PORT="+strconv.Itoa(fport))
	if err := s.spawn(node, logw); err != nil {
		s.Stop()
		return nil, fmt.Errorf("localaws: start fauxqs: %w", err)
	}
	s.DynamoDB = "http://127.0.0.1:" + strconv.Itoa(dport)
	s.SQS = "http://127.0.0.1:" + strconv.Itoa(fport)
	s.S3 = s.SQS
	for _, ep := range []string{s.DynamoDB, s.SQS} {
		if err := waitHTTP(ctx, ep, 90*time.Second); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// Stop kills the servers this package started.
func (s *Servers) Stop() {
	for _, p := range s.procs {
		if p.Process != nil {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			_ = p.Wait()
		}
	}
	s.procs = nil
}

func (s *Servers) spawn(cmd *exec.Cmd, logw io.Writer) error {
	cmd.Stdout, cmd.Stderr = logw, logw
	// Own process group (Stop kills the group), and die with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.procs = append(s.procs, cmd)
	return nil
}

// requireTools says exactly what to install when Java or Node is missing.
func requireTools() error {
	var missing []string
	if _, err := exec.LookPath("java"); err != nil {
		missing = append(missing, "java (DynamoDB Local needs Java 17 or later; Debian: apt-get install -y openjdk-17-jre-headless)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (fauxqs needs Node.js 20 or later; Debian: apt-get install -y nodejs)")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing = append(missing, "npm (installs the pinned servers; Debian: apt-get install -y npm)")
	}
	if len(missing) > 0 {
		return errors.New("localaws: missing " + strings.Join(missing, "; "))
	}
	return nil
}

// install runs npm ci once per lockfile change; a lock file keeps test
// packages running in parallel from installing at the same time.
func install(ctx context.Context, dir string, logw io.Writer) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("localaws: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("localaws: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	want, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("localaws: %w", err)
	}
	stamp := filepath.Join(dir, "node_modules", ".cutover-installed")
	if have, err := os.ReadFile(stamp); err == nil && bytes.Equal(have, want) {
		return nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("localaws: npm ci in %s: %w\n%s", dir, err, out.String())
	}
	fmt.Fprintf(logw, "localaws: installed %s\n", dir)
	return os.WriteFile(stamp, want, 0o644)
}

// toolsDir finds testtools/localaws from the working directory upwards.
func toolsDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "testtools", "localaws", "package.json")
		if _, err := os.Stat(p); err == nil {
			return filepath.Dir(p), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("localaws: testtools/localaws not found above %s", wd)
		}
	}
}

func freePort() (int, error) {
	p, err := freeport.Pick(freeport.ServersLo, freeport.ServersHi)
	if err != nil {
		return 0, fmt.Errorf("localaws: %w", err)
	}
	return p, nil
}

// waitHTTP waits until something answers HTTP at url.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("localaws: %s did not answer within %s: %w", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
