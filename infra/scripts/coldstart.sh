#!/usr/bin/env bash
# Cold starts, measured with the Lambda Runtime Interface Emulator: for each
# function's real bootstrap (built for this machine's architecture, with the
# Lambda flags) and for a bare aws-lambda-go hello, the time from the
# invoke that starts the process to its first answer, median of N runs. RIE's
# own "Init Duration" is not a cold-start figure; the ratio to hello is.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tools="$root/.tools"
runs=${RUNS:-7}
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
[ -x "$tools/aws-lambda-rie" ] || GOBIN="$tools" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() { CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o "$work/$1/bootstrap" "$2"; }
build hello ./infra/tools/hello
for fn in ingest dispatch ops; do build "$fn" "./functions/$fn"; done

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# One cold start: start RIE, send the first invoke, time until it answers.
cold() { # dir event
  local port api pid start end
  port=$(free_port); api=$(free_port)
  "$tools/aws-lambda-rie" --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "127.0.0.1:$api" "$work/$1/bootstrap" >"$work/$1.log" 2>&1 &
  pid=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.02; done
  start=$(date +%s%N)
  curl -s -o "$work/$1.out" -XPOST "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" -d "$2"
  end=$(date +%s%N)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  if grep -q errorMessage "$work/$1.out"; then echo "coldstart: $1 failed: $(cat "$work/$1.out")" >&2; return 1; fi
  echo $(( (end - start) / 1000000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export QBRIDGE_SPECS="$root/testdata/specs" QBRIDGE_STATE_TABLE=state QBRIDGE_AUDIT_TABLE=audit
export QBRIDGE_INBOUND_QUEUE_URL=http://127.0.0.1:9/inbound QBRIDGE_DEADLETTER_QUEUE_URL=http://127.0.0.1:9/dlq
# First answers that need no AWS call: an unknown connection (404), an empty
# batch, the console page. What they measure is start-up plus one request.
ev_ingest='{"version":"2.0","routeKey":"POST /erp/{connection}/events","rawPath":"/erp/nope/events","pathParameters":{"connection":"nope"},"requestContext":{"http":{"method":"POST"}},"body":"{}"}'
ev_dispatch='{"Records":[]}'
ev_ops='{"version":"2.0","rawPath":"/ops/console","requestContext":{"http":{"method":"GET"}}}'

declare -A ms
for name in hello ingest dispatch ops; do
  ev='{}'
  case $name in ingest) ev=$ev_ingest;; dispatch) ev=$ev_dispatch;; ops) ev=$ev_ops;; esac
  ms[$name]=$(for i in $(seq "$runs"); do cold "$name" "$ev"; done | median)
done
printf 'cold start, first answer (median of %d, RIE on %s): hello %s ms\n' "$runs" "$(uname -m)" "${ms[hello]}"
for fn in ingest dispatch ops; do
  size=$(stat -c %s "$work/$fn/bootstrap")
  awk -v f="$fn" -v m="${ms[$fn]}" -v h="${ms[hello]}" -v s="$size" 'BEGIN {printf "%s: %d ms, %.2fx hello, bootstrap %.1f MB\n", f, m, m/h, s/1e6}'
done
