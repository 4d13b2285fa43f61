#!/usr/bin/env bash
# Runs a command with the local AWS stand-ins up: dynalite (DynamoDB) and
# fauxqs@1.9.2 (SQS), installed from npm into .tools/node, started on free
# 127.0.0.1 ports, stopped by their own PIDs when the command ends.
#
#   infra/scripts/with-emulators.sh go test ./...
#
# The command sees QBRIDGE_TEST_DYNAMODB_ENDPOINT and QBRIDGE_TEST_SQS_ENDPOINT.
# See ../shared/EMULATORS.md for what each emulator does and does not do.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tools="$root/.tools/node"
logs="$root/.tools/logs"
mkdir -p "$tools" "$logs"

DYNALITE_VERSION=4.0.0
FAUXQS_VERSION=1.9.2 # 2.x needs Node >= 22.5 and crashes on Node 20

installed() { [ -f "$tools/node_modules/$1/package.json" ] && grep -q "\"version\": \"$2\"" "$tools/node_modules/$1/package.json"; }
if ! installed dynalite "$DYNALITE_VERSION" || ! installed fauxqs "$FAUXQS_VERSION"; then
  echo "emulators: installing dynalite@$DYNALITE_VERSION fauxqs@$FAUXQS_VERSION" >&2
  [ -f "$tools/package.json" ] || echo '{"name":"qbridge-tools","private":true}' > "$tools/package.json"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
    "dynalite@$DYNALITE_VERSION" "fauxqs@$FAUXQS_VERSION" >&2
fi

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

wait_port() { # port name pid
  local deadline=$((SECONDS + 20))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if ! kill -0 "$3" 2>/dev/null; then echo "emulators: $2 exited; see $logs/$2.log" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "emulators: $2 not listening on $1 after 20s" >&2; return 1; fi
    sleep 0.1
  done
}

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap stop EXIT INT TERM

ddb_port=$(free_port)
node "$tools/node_modules/dynalite/cli.js" --host 127.0.0.1 --port "$ddb_port" --createTableMs 0 >"$logs/dynalite.log" 2>&1 &
pids+=($!)
wait_port "$ddb_port" dynalite "${pids[-1]}"

sqs_port=$(free_port)
FAUXQS_PORT=$sqs_port FAUXQS_HOST=127.0.0.1 node "$tools/node_modules/fauxqs/dist/cli.js" >"$logs/fauxqs.log" 2>&1 &
pids+=($!)
wait_port "$sqs_port" fauxqs "${pids[-1]}"

export QBRIDGE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export QBRIDGE_TEST_SQS_ENDPOINT="http://127.0.0.1:$sqs_port"
export AWS_EC2_METADATA_DISABLED=true
echo "emulators: dynalite $QBRIDGE_TEST_DYNAMODB_ENDPOINT, fauxqs $QBRIDGE_TEST_SQS_ENDPOINT" >&2

"$@"
