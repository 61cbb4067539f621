#!/usr/bin/env bash
# What a request the compiled path served before (the fast lane) costs the service: this
# work tree's `liaison serve` against another commit's, one process each over the same embedded
# PostgreSQL, bench Q1 and Q3 (identical regime, the benchmark's bearer token), wrk against
# each in turn (the side going first alternating by round), CPU of each service process
# read from /proc around each run.
#
#   bash bench/fast_lane_cost.sh bbc93ff [rounds] [seconds]
#
# As bench/telemetry_cost.sh: the other commit runs from `git archive` with a copy of .venv
# whose editable install of this tree is removed. Needs wrk. PROFILE=1 also records a
# py-spy profile (`.venv/bin/pip install py-spy`) of each side on Q3 into $PROFILE_DIR
# (default /tmp), which `.venv/bin/python -m bench.profile_layers` splits into layers.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE_COMMIT="$1"
ROUNDS="${2:-5}"
SECONDS_PER_RUN="${3:-10}"
WORK="$(mktemp -d /tmp/liaison-fastlane-XXXX)"
chmod 711 "$WORK"  # the embedded server's own user (when we are root) must pass through
trap 'kill $BRANCH_PID $BASE_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
BRANCH_PID="" BASE_PID=""
mkdir "$WORK/base"
git -C "$ROOT" archive "$BASE_COMMIT" | tar -x -C "$WORK/base"
cp -a "$ROOT/.venv" "$WORK/venv"
rm -f "$WORK"/venv/lib/python3*/site-packages/__editable__*
(cd "$ROOT" && .venv/bin/python - "$WORK" <<'PY'
import json, sys
from pathlib import Path
from bench.perf import bench_token
from bench.queries import DETAIL_POINT
work, queries = Path(sys.argv[1]), Path("bench/queries")
for key, name, variables in (("Q1", "q1_dashboard", {"points": 20, "cases": 5}),
                             ("Q3", "q3_detail", {"code": DETAIL_POINT, "cases": 10})):
    body = {"query": (queries / f"{name}.graphql").read_text(), "variables": variables}
    (work / f"{key}.json").write_text(json.dumps(body, separators=(",", ":")))
(work / "token").write_text(bench_token())
PY
)
TOKEN="$(cat "$WORK/token")"
export LIAISON_BUDGET_POINTS=1000000000000 LIAISON_MAX_COST=10000000 HOST=127.0.0.1 LIAISON_EXECUTION=compiled
export LIAISON_JWT_ISSUER="https://sso.bench.example" LIAISON_JWT_AUDIENCE="liaison-graph"
export LIAISON_JWT_SECRET="the benchmark's own secret, at least thirty-two characters"
ready() {  # port, pid, log
    for _ in $(seq 900); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return
        kill -0 "$2" 2>/dev/null || { tail -20 "$3"; exit 1; }
        sleep 0.5
    done
    exit 1
}
LIAISON_DATA_DIR="$WORK/pg" PORT=8111 "$ROOT/.venv/bin/liaison" serve > "$WORK/branch.log" 2>&1 &
BRANCH_PID=$!
ready 8111 "$BRANCH_PID" "$WORK/branch.log"
SOCKETS="$(sed -n 5p "$WORK/pg/postmaster.pid")"
(cd "$WORK/base" && DATABASE_URL="postgresql://postgres@/postgres?host=$SOCKETS" PORT=8112 PYTHONPATH="$WORK/base" \
    exec "$WORK/venv/bin/python" -c "from api.cli import main; main(['serve'])") > "$WORK/base.log" 2>&1 &
BASE_PID=$!
ready 8112 "$BASE_PID" "$WORK/base.log"
for q in Q1 Q3; do  # compiled on the first request, the fast lane from the second; same bytes both sides
    for port in 8111 8112; do
        for _ in 1 2 3; do
            curl -s -o "$WORK/$q.$port" "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' \
                -H "authorization: Bearer $TOKEN" -d @"$WORK/$q.json"
        done
    done
    grep -q '"data"' "$WORK/$q.8111" && ! grep -q '"errors"' "$WORK/$q.8111" || { echo "$q: $(head -c 300 "$WORK/$q.8111")"; exit 1; }
    sed 's/"extensions".*//' "$WORK/$q.8111" | cmp -s - <(sed 's/"extensions".*//' "$WORK/$q.8112") || { echo "$q: answers differ"; exit 1; }
done
export WRK_METHOD=POST WRK_HEADERS=$'content-type: application/json\nauthorization: Bearer '"$TOKEN"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, in ticks
TICK_US=$((1000000 / $(getconf CLK_TCK)))
if [ "${PROFILE:-}" = 1 ]; then
    for side in branch base; do
        if [ "$side" = branch ]; then port=8111 pid=$BRANCH_PID; else port=8112 pid=$BASE_PID; fi
        WRK_BODY_FILE="$WORK/Q3.json" wrk -t2 -c16 -d25s -s "$ROOT/bench/wrk.lua" "http://127.0.0.1:$port/graphql" >/dev/null &
        load=$!
        sleep 2
        "$ROOT/.venv/bin/py-spy" record -p "$pid" -d 20 -r 200 -f raw -o "${PROFILE_DIR:-/tmp}/fast_lane.$side.txt" >/dev/null 2>&1 || true
        wait $load
    done
fi
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    sides="branch base"; [ $((round % 2)) = 0 ] && sides="base branch"
    for q in Q1 Q3; do
        for side in $sides; do
            if [ "$side" = branch ]; then port=8111 pid=$BRANCH_PID; else port=8112 pid=$BASE_PID; fi
            before=$(cpu "$pid")
            out=$(WRK_BODY_FILE="$WORK/$q.json" wrk -t2 -c16 -d"${SECONDS_PER_RUN}s" --latency -s "$ROOT/bench/wrk.lua" \
                "http://127.0.0.1:$port/graphql" | grep WRK_JSON)
            after=$(cpu "$pid")
            requests=$(sed 's/.*"requests": \([0-9]*\).*/\1/' <<< "$out")
            bad=$(sed 's/.*"bad_bodies": \([0-9]*\).*/\1/' <<< "$out")
            p50=$(sed 's/.*"p50_us": \([0-9]*\).*/\1/' <<< "$out")
            echo "round $round $q $side: $requests requests ($((requests / SECONDS_PER_RUN))/s, $bad bad), p50 $p50 us," \
                "$(( (after - before) * TICK_US / requests )) us CPU per request, load $(cut -d' ' -f1 /proc/loadavg)"
        done
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
