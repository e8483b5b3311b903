# Shared helpers for end-to-end scenarios: start real binaries on loopback, wait, check.
# Source it from tests/e2e/<case>/run; the scenario's first argument is the podfleet binary.
set -euo pipefail

E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PODFLEET=$(realpath "${1:?usage: run PODFLEET_BINARY}")
WORK=$(mktemp -d /tmp/podfleet-e2e.XXXXXX)
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "--- scenario failed (rc=$rc); logs in $WORK:" >&2
    for f in "$WORK"/*.log; do echo "=== $f" >&2; tail -n 40 "$f" >&2; done
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND every 0.2 s until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}

# Serves directory $1 over HTTP on a free loopback port; sets ORIGIN to its base URL.
start_origin() {
  local dir=$1
  mkdir -p "$dir"
  python3 "$E2E_LIB/serve.py" --dir "$dir" --port 0 --port-file "$WORK/origin.port" >"$WORK/origin.log" 2>&1 &
  PIDS+=($!)
  wait_for 10 "the origin server" test -s "$WORK/origin.port"
  ORIGIN="http://127.0.0.1:$(cat "$WORK/origin.port")"
}

# Starts `podfleet serve` on a free port with data dir $WORK/data; sets SERVER, TOKEN (enrollment)
# and ADMIN (the admin token, read from the data directory's admin.token as an operator would).
start_coordinator() {
  "$PODFLEET" serve --data "$WORK/data" --port 0 "$@" >"$WORK/serve.log" 2>&1 &
  PIDS+=($!)
  wait_for 20 "the coordinator" grep -q "listening on" "$WORK/serve.log"
  SERVER=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.log" | head -n 1)
  TOKEN=$(grep -o 'pfe_[A-Za-z0-9_-]*' "$WORK/serve.log" | head -n 1)
  [ -n "$TOKEN" ] || fail "the coordinator printed no enrollment token"
  [ "$(stat -c %a "$WORK/data/admin.token")" = 600 ] || fail "admin.token is not mode 0600"
  ADMIN=$(cat "$WORK/data/admin.token")
  grep -q "$ADMIN" "$WORK/serve.log" || fail "the coordinator did not print its admin token"
}

# start_worker NAME [flags...]
start_worker() {
  local name=$1; shift
  "$PODFLEET" work --server "$SERVER" --token "$TOKEN" --name "$name" --work-dir "$WORK/$name" "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

api() { curl -sS --fail-with-body "$SERVER$1"; }
# api_post PATH JSON: a change, so it carries the admin token.
api_post() {
  curl -sS --fail-with-body -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "$2" "$SERVER$1"
}

# Waits until no job is queued or running.
queue_drained() {
  local q
  q=$(api /api/queue/status) || return 1
  [ "$(jq '.transcribe_queue.queued + .transcribe_queue.running' <<<"$q")" -eq 0 ]
}
