#!/usr/bin/env bash
# What telemetry costs a request: this work tree's `liaison serve` (metrics, JSON access
# line per request, tracing off) against another commit's, one process each over the same
# embedded PostgreSQL, wrk against each in turn, CPU seconds of each service process read
# from /proc around each run.
#
#   bash bench/telemetry_cost.sh 1997fd4 [rounds]
#
# The other commit runs from `git archive` with a copy of .venv whose editable install of
# this tree is removed, so that it imports its own code. Needs wrk (apt-get install wrk).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE_COMMIT="$1"
ROUNDS="${2:-5}"
WORK="$(mktemp -d /tmp/liaison-telemetry-XXXX)"
chmod 711 "$WORK"  # the embedded server's own user (when we are root) must pass through
trap 'kill $BRANCH_PID $BASE_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
BRANCH_PID="" BASE_PID=""
mkdir "$WORK/base"
git -C "$ROOT" archive "$BASE_COMMIT" | tar -x -C "$WORK/base"
cp -a "$ROOT/.venv" "$WORK/venv"
rm -f "$WORK"/venv/lib/python3*/site-packages/__editable__*
cat > "$WORK/body.json" <<'JSON'
{"query":"query Five { contactPoints(first: 10, filter: {currentStars: [FIVE]}) { nodes { code name district { name } } } }","operationName":"Five"}
JSON
export LIAISON_BUDGET_POINTS=1000000000 HOST=127.0.0.1
ready() {  # port, pid, log
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return
        kill -0 "$2" 2>/dev/null || { tail -20 "$3"; exit 1; }
        sleep 0.5
    done
    exit 1
}
LIAISON_DATA_DIR="$WORK/pg" PORT=8101 "$ROOT/.venv/bin/liaison" serve > "$WORK/branch.log" 2>&1 &
BRANCH_PID=$!
ready 8101 "$BRANCH_PID" "$WORK/branch.log"
SOCKETS="$(sed -n 5p "$WORK/pg/postmaster.pid")"
(cd "$WORK/base" && DATABASE_URL="postgresql://postgres@/postgres?host=$SOCKETS" PORT=8102 PYTHONPATH="$WORK/base" \
    exec "$WORK/venv/bin/python" -c "from api.cli import main; main(['serve'])") > "$WORK/base.log" 2>&1 &
BASE_PID=$!
ready 8102 "$BASE_PID" "$WORK/base.log"
for port in 8101 8102; do  # compiled on the first request, the fast lane from the second
    for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' -d @"$WORK/body.json"; done
done
export WRK_METHOD=POST WRK_BODY_FILE="$WORK/body.json" WRK_HEADERS=$'content-type: application/json'
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, in ticks
TICK_US=$((1000000 / $(getconf CLK_TCK)))
for round in $(seq "$ROUNDS"); do
    for side in branch base; do
        if [ "$side" = branch ]; then port=8101 pid=$BRANCH_PID; else port=8102 pid=$BASE_PID; fi
        before=$(cpu "$pid")
        out=$(wrk -t2 -c16 -d10s --latency -s "$ROOT/bench/wrk.lua" "http://127.0.0.1:$port/graphql" | grep WRK_JSON)
        after=$(cpu "$pid")
        requests=$(sed 's/.*"requests": \([0-9]*\).*/\1/' <<< "$out")
        p50=$(sed 's/.*"p50_us": \([0-9]*\).*/\1/' <<< "$out")
        echo "round $round $side: $requests requests, p50 $p50 us, $(( (after - before) * TICK_US / requests )) us CPU per request"
    done
done
