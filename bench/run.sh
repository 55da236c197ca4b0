#!/usr/bin/env bash
# Outlast in the peer benchmark. Not for CI: it takes minutes to tens of minutes and
# its numbers only mean something on an otherwise idle machine.
#
#   bash bench/run.sh                                  # outlast_pg + outlast_sqlite
#   PEERS="pgqueuer dramatiq huey_sqlite" bash bench/run.sh   # + those peers, one table
#
# Knobs (env): N_JOBS=10000 REPEATS=3 N_LAT=200 (the peers' own), OUTLAST_STORES="pg sqlite",
# OUTLAST_CONCURRENCY=4, OUTLAST_KINDS="sync async" (job bodies as def, and as async def
# like pgqueuer's: outlast_pg, outlast_pg_async), PEERS="" (names as in the peers' run.sh),
# PEERS_DIR, BENCH_DIR, PEER_TIMEOUT=900. PostgreSQL must answer on 127.0.0.1:5432 as user postgres.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export PEERS_DIR=${PEERS_DIR:-$(cd "$REPO/../shared/bench/peers" 2>/dev/null && pwd)}
[ -f "$PEERS_DIR/common.py" ] || { echo "shared peer harness not found (set PEERS_DIR)"; exit 1; }
export BENCH_DIR=${BENCH_DIR:-/tmp/peers-bench} PGPASSWORD=postgres
export PG_URL=${PG_URL:-postgresql://postgres:postgres@127.0.0.1:5432}
PY=${PY:-$REPO/.venv/bin/python}
PEERS=${PEERS:-} PEER_TIMEOUT=${PEER_TIMEOUT:-900}
OUTLAST_STORES=${OUTLAST_STORES:-"pg sqlite"}
OUTLAST_KINDS=${OUTLAST_KINDS:-"sync async"}

# The peers' run.sh starts with `rm -rf $BENCH_DIR`, so it runs first and Outlast's rows are
# appended to the same results.jsonl afterwards.
if [ -n "$PEERS" ]; then
  echo "=== peers: $PEERS ($(date +%T))" >&2
  PEERS="$PEERS" bash "$PEERS_DIR/run.sh" > "$BENCH_DIR.peers.out" 2>&1 \
    || echo "peer run failed, see $BENCH_DIR.peers.out" >&2
else
  rm -rf "$BENCH_DIR"
fi
mkdir -p "$BENCH_DIR"
# Outlast's modules byte-compiled, as an installed package's are (pip compiles them when it
# installs, as it did the peers'): this editable checkout, run under
# PYTHONDONTWRITEBYTECODE=1, would otherwise compile every module it imports at each worker
# start (W2's boot: 0.45 s of CPU instead of 0.31, bench/boot_bench.py).
"$PY" -m compileall -q src > /dev/null
pg_isready -q -h 127.0.0.1 || { echo "PostgreSQL is not answering on 127.0.0.1:5432"; exit 1; }

for store in $OUTLAST_STORES; do
 for kind in $OUTLAST_KINDS; do
  name=outlast_$store$([ "$kind" = async ] && echo _async)
  echo "=== $name ($(date +%T))" >&2
  if ! OUTLAST_STORE=$store OUTLAST_BENCH_ASYNC=$([ "$kind" = async ] && echo 1 || echo 0) \
      timeout "$PEER_TIMEOUT" "$PY" -W ignore bench/outlast_peer.py \
      > "$BENCH_DIR/$name.out" 2> "$BENCH_DIR/$name.err"; then
    echo "{\"peer\": \"$name\", \"error\": \"exit/timeout, see $BENCH_DIR/$name.err\"}" >> "$BENCH_DIR/results.jsonl"
    tail -5 "$BENCH_DIR/$name.err" >&2
  fi
 done
done
echo
"$PY" "$PEERS_DIR/report.py"
echo "raw results: $BENCH_DIR/results.jsonl"
