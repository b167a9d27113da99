package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
)

// bareProxy is the least a Go reverse proxy can do: the standard library's
// ReverseProxy with a connection pool large enough for the benchmark and
// nothing else. It is the floor of any net/http proxy on this machine,
// against which cutover off shows what its own routing, flags, metrics and
// tracing cost.
const bareProxy = `package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	target, err := url.Parse(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	rp.ErrorLog = log.New(io.Discard, "", 0) // wrk cuts requests short at the end of each run
	log.Fatal(http.ListenAndServe(os.Args[1], rp))
}
`

// startBare builds and starts bareProxy with cutover's GOGC, so that the
// two differ only in what they do per request.
func startBare(ctx context.Context, dir, legacy string) (url string, pid int) {
	src := filepath.Join(dir, "bare", "main.go")
	must(os.MkdirAll(filepath.Dir(src), 0o755))
	must(os.WriteFile(src, []byte(bareProxy), 0o600))
	bin := filepath.Join(dir, "bare", "bare")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	must(build.Run())
	listen := freeAddr()
	cmd := exec.CommandContext(ctx, bin, listen, legacy)
	cmd.Env = append(os.Environ(), "GOGC=400")
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	stopAtExit(cmd)
	return "http://" + listen, cmd.Process.Pid
}
