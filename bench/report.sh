#!/usr/bin/env bash
# Rendering speed and size of the HTML report for a 10-minute drill at 2000 req/s (1.2 million
# requests, bucketed): the test `ten_minutes_at_2000_per_second_make_a_small_page` writes the
# synthetic JSON report, then this times `kubectl rayha report FILE -o html` (read, parse, render,
# write) over RUNS runs and prints the page's size. The issue's target: under 1 MB, under 1 s.
#   bench/report.sh [RUNS]        (default 5; RAYHA_BENCH_PROFILE=debug skips the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PROFILE=${RAYHA_BENCH_PROFILE:-release}
cargo test -q --test report ten_minutes >/dev/null
if [ "$PROFILE" = release ]; then cargo build --release -q; fi
BIN=target/$PROFILE/kubectl-rayha
JSON=target/tmp/report-synthetic.json
OUT=$(mktemp --suffix .html)
trap 'rm -f "$OUT"' EXIT
best=
for _ in $(seq "$RUNS"); do
  t0=$(date +%s%N)
  "$BIN" report "$JSON" -o html --output-file "$OUT"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "synthetic report: $(stat -c %s "$JSON") bytes of JSON"
echo "html page: $(stat -c %s "$OUT") bytes; render best of $RUNS: $best ms ($PROFILE build)"
