#!/bin/sh
# ensure.sh makes sure `prometheus` and `promtool` are on PATH, for the test
# that runs cutover's dashboards and alert rules against a real Prometheus
# (cmd/cutover/prometheus_test.go). Both come from Debian's `prometheus`
# package, which this script installs when they are missing and it runs as
# root; otherwise it says what to install and fails. The package's own
# service is not used: the test starts its own Prometheus on a free
# loopback port with a temporary data directory.
#
# Usage: testtools/prometheus/ensure.sh   (exit 0: both are on PATH)
set -eu

missing() {
	out=""
	for tool in prometheus promtool; do
		command -v "$tool" >/dev/null 2>&1 || out="$out $tool"
	done
	echo "${out# }"
}

need=$(missing)
if [ -z "$need" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	cat >&2 <<MSG
ensure.sh: missing on PATH: $need
Install Debian's prometheus package, which provides both prometheus and promtool:
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
(or run this script as root). On other systems, put the prometheus and promtool binaries of a
Prometheus 2.x (2.42 or later) or 3.x release on PATH.
MSG
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure.sh: missing on PATH: $need; apt-get is not available: put the prometheus and promtool binaries of a Prometheus 2.x (2.42 or later) or 3.x release on PATH." >&2
	exit 1
fi

echo "ensure.sh: installing Debian's prometheus package (missing: $need)" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus

need=$(missing)
if [ -n "$need" ]; then
	echo "ensure.sh: still missing after installing the prometheus package: $need" >&2
	exit 1
fi
