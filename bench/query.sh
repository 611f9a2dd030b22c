#!/usr/bin/env bash
# Benchmark of `kubectl rayha query --url` side by side with wrk, ab and the KubeRay HA guide's own
# query.py, all against one nginx on 127.0.0.1 answering `12`. Prints requests/s, p99 and peak RSS
# of each client, and the ratios the query issue sets as targets.
#   bench/query.sh [SECONDS]      (default 10 s per run)
# RAYHA_BENCH_BASELINE=/path/to/an/older/kubectl-rayha also runs that binary the same three ways,
# right after this build's runs, and prints this build / baseline side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
PORT=${RAYHA_BENCH_PORT:-18480}
URL="http://127.0.0.1:$PORT/fruit/"
WORK=$(mktemp -d)
trap 'kill "$(cat "$WORK/nginx.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$WORK"' EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! need ab || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk apache2-utils time >/dev/null
fi
python3 -c 'import requests' 2>/dev/null || pip install -q requests

cargo build --release -q
RAYHA=target/release/kubectl-rayha

# nginx answering the guide's reply to every POST /fruit/.
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx-body;
  server {
    listen 127.0.0.1:$PORT reuseport backlog=4096;
    location /fruit/ { default_type text/plain; return 200 "12"; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf"
sleep 0.5

# The guide's query.py, taken from the sample's ConfigMap, pointed at the same URL.
awk '/query.py: \|-/{f=1;next} f&&/^---/{exit} f{sub(/^    /,""); print}' \
  tests/data/kuberay/ray-service.high-availability.yaml |
  sed "s#http://rayservice-ha-serve-svc:8000/fruit/#$URL#" > "$WORK/query.py"
grep -q "$URL" "$WORK/query.py" || { echo "could not extract query.py" >&2; exit 1; }

printf '["PEAR", 12]' > "$WORK/body"
cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '["PEAR", 12]'
wrk.headers["Content-Type"] = "application/json"
LUA

rss() { awk -F: '/Maximum resident/{gsub(/ /,"",$2); printf "%.1f", $2/1024}' "$1"; }

wrk_run() { # threads conns -> "rate p99ms"
  /usr/bin/time -v -o "$WORK/t" wrk -t"$1" -c"$2" -d"${SECS}s" --latency -s "$WORK/post.lua" "$URL" > "$WORK/wrk.out"
  local rate p99
  rate=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk.out")
  p99=$(awk '$1=="99%"{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$WORK/wrk.out")
  echo "$rate $p99 $(rss "$WORK/t")"
}

rayha_run() { # extra args -> "rate p99ms rss"
  /usr/bin/time -v -o "$WORK/t" "${BIN:-$RAYHA}" query --url "$URL" --duration "${SECS}s" -o json "$@" > "$WORK/r.json"
  python3 - "$WORK/r.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
assert s["failures"] == 0, s["failures_by_detail"]
print(f'{s["rate_per_s"]:.0f} {s["latency_ms"]["p99"]:.3f}', end=" ")
PY
  rss "$WORK/t"; echo
}

ab_run() {
  local n=$((SECS * 20000))
  /usr/bin/time -v -o "$WORK/t" ab -q -c 1 -t "$SECS" -n "$n" -p "$WORK/body" -T application/json "$URL" > "$WORK/ab.out" 2>&1
  local rate p99
  rate=$(awk '/Requests per second/{print $4}' "$WORK/ab.out")
  p99=$(awk '$1=="99%"{print $2}' "$WORK/ab.out")
  echo "$rate $p99 $(rss "$WORK/t")"
}

querypy_run() {
  /usr/bin/time -v -o "$WORK/t" timeout "$SECS" python3 "$WORK/query.py" > "$WORK/q.out" 2>&1 || true
  local n; n=$(grep -c '^req_index' "$WORK/q.out" || true)
  echo "$(awk -v n="$n" -v s="$SECS" 'BEGIN{printf "%.0f", n/s}') - $(rss "$WORK/t")"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ); ${SECS}s per run; nginx 1 worker on $URL"
read -r WRK1 WRK1P WRK1M <<<"$(wrk_run 1 1)"
read -r RK RKP RKM <<<"$(rayha_run --keep-alive)"
read -r AB ABP ABM <<<"$(ab_run)"
read -r RF RFP RFM <<<"$(rayha_run)"
read -r QP _ QPM <<<"$(querypy_run)"
read -r WRK64 WRK64P WRK64M <<<"$(wrk_run 2 64)"
read -r R64 R64P R64M <<<"$(rayha_run --keep-alive --concurrency 64)"
if [ -n "${RAYHA_BENCH_BASELINE:-}" ]; then
  read -r BK BKP BKM <<<"$(BIN=$RAYHA_BENCH_BASELINE rayha_run --keep-alive)"
  read -r BF BFP BFM <<<"$(BIN=$RAYHA_BENCH_BASELINE rayha_run)"
  read -r B64 B64P B64M <<<"$(BIN=$RAYHA_BENCH_BASELINE rayha_run --keep-alive --concurrency 64)"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
printf '\n%-44s %10s %9s %8s\n' "client" "req/s" "p99 ms" "RSS MB"
printf '%-44s %10s %9s %8s\n' "wrk -t1 -c1 (keep-alive)" "$WRK1" "$WRK1P" "$WRK1M"
printf '%-44s %10s %9s %8s\n' "kubectl rayha query --keep-alive" "$RK" "$RKP" "$RKM"
printf '%-44s %10s %9s %8s\n' "ab -c1 (fresh connections)" "$AB" "$ABP" "$ABM"
printf '%-44s %10s %9s %8s\n' "kubectl rayha query (fresh connections)" "$RF" "$RFP" "$RFM"
printf '%-44s %10s %9s %8s\n' "query.py (the guide's loop)" "$QP" "-" "$QPM"
printf '%-44s %10s %9s %8s\n' "wrk -t2 -c64" "$WRK64" "$WRK64P" "$WRK64M"
printf '%-44s %10s %9s %8s\n' "kubectl rayha query --keep-alive -c 64" "$R64" "$R64P" "$R64M"
if [ -n "${RAYHA_BENCH_BASELINE:-}" ]; then
  printf '%-44s %10s %9s %8s\n' "baseline query --keep-alive" "$BK" "$BKP" "$BKM"
  printf '%-44s %10s %9s %8s\n' "baseline query (fresh connections)" "$BF" "$BFP" "$BFM"
  printf '%-44s %10s %9s %8s\n' "baseline query --keep-alive -c 64" "$B64" "$B64P" "$B64M"
fi
echo
echo "ratios (target):"
echo "  keep-alive, 1 in flight vs wrk -c1:   $(ratio "$RK" "$WRK1")  (>= 0.9)"
echo "  fresh, 1 in flight vs ab -c1:         $(ratio "$RF" "$AB")  (>= 0.9)"
echo "  fresh, 1 in flight vs query.py:       $(ratio "$RF" "$QP")  (>= 5)"
echo "  keep-alive, 64 in flight vs wrk -c64: $(ratio "$R64" "$WRK64")  (>= 0.8)"
echo "  peak RSS of kubectl rayha:            $(printf '%s\n' "$RKM" "$RFM" "$R64M" | sort -n | tail -1) MB  (<= 20)"
if [ -n "${RAYHA_BENCH_BASELINE:-}" ]; then
  echo "this build / baseline ($RAYHA_BENCH_BASELINE):"
  echo "  keep-alive: $(ratio "$RK" "$BK")  fresh: $(ratio "$RF" "$BF")  64 in flight: $(ratio "$R64" "$B64")"
fi
