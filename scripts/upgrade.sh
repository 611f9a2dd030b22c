#!/usr/bin/env bash
# A Ray image upgrade under load on the test rig (real Ray): rayproject/ray FROM -> TO on the
# generated bundle (re-applied with `kubectl rayha apply --ray-version TO`) or on KubeRay's HA
# manifest (its images and rayVersion changed, re-applied with plain `kubectl apply`), while
# `kubectl rayha query --via pod` keeps one request in flight from a tester pod (a fresh
# connection per request through <name>-serve-svc and kube-proxy). KubeRay rolls it out as a
# new-cluster upgrade; the script follows the RayService's status and prints when the pending
# cluster appeared, when the serve Service switched to it, when the old cluster was gone, and
# the query's numbers (failures, longest stretch without a success). Run by hand (8-15 min).
# `apply-load` instead upgrades the bundle with `kubectl rayha apply --load --via proxy,pod`, which
# does all of that itself and prints its report (the proxy route beside the pod route).
#
#   scripts/upgrade.sh bundle|guide|apply-load [FROM] [TO]
#                                                  (default 2.52.0 -> 2.52.1; both must be in
#                                                  RAY_VERSIONS of rig/versions.env; needs
#                                                  `rig/rig up` with real pods)
#
# Logs go to target/upgrade/. Exit 0 when the upgrade finished with no failed request.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:?usage: scripts/upgrade.sh bundle|guide|apply-load [FROM] [TO]}
FROM=${2:-2.52.0}
TO=${3:-2.52.1}
DEADLINE=1200   # seconds for the whole rollout
case $WHAT in bundle|guide|apply-load) ;; *) echo "bundle, guide or apply-load, not $WHAT" >&2; exit 2 ;; esac
. scripts/rig-lib.sh
rig_env
NS=upgrade-$WHAT-$$
OUT=target/upgrade/$NS
mkdir -p "$OUT"
RS=rayservice-ha
QUERY_PID=""

cleanup() {
  [ -n "$QUERY_PID" ] && kill -INT "$QUERY_PID" 2>/dev/null && wait "$QUERY_PID" 2>/dev/null || true
  cleanup_ns "$NS"
}
trap cleanup EXIT
kubectl create namespace "$NS" >/dev/null

echo "== $WHAT in $NS: Ray $FROM -> $TO"
if [ "$WHAT" = apply-load ]; then
  deploy_bundle "$NS" --ray-version "$FROM" >/dev/null
  "$RAYHA" apply -n "$NS" --import-path rayha_fruit.app:deployment_graph --working-dir "" \
    --ray-version "$TO" --load --via proxy,pod --timeout 20m --report "$OUT/report.json" && rc=0 || rc=$?
  echo "report: $OUT/report.json"
  exit $rc
fi
case $WHAT in
  bundle) deploy_bundle "$NS" --ray-version "$FROM" >/dev/null ;;
  guide) deploy_guide "$NS" timeout ;;
esac
field() { kubectl get rayservices.ray.io $RS -n "$NS" -o jsonpath="$1" 2>/dev/null || true; }
OLD=$(field '{.status.activeServiceStatus.rayClusterName}')
echo "serving RayCluster $OLD"

"$RAYHA" query $RS -n "$NS" --via pod -o json -q > "$OUT/query.json" 2> "$OUT/query.err" &
QUERY_PID=$!
# The tester pod's first answer, then a short baseline.
for _ in $(seq 120); do grep -q "first request\|requests" "$OUT/query.err" 2>/dev/null && break; sleep 1; done
sleep 20

T0=$(date +%s.%N)
since() { echo "$(date +%s.%N) - $T0" | bc | xargs printf '%.1f'; }
# In the background: `kubectl rayha apply` waits until the RayService is Ready again.
case $WHAT in
  bundle)
    "$RAYHA" apply -n "$NS" --import-path rayha_fruit.app:deployment_graph --working-dir "" \
      --ray-version "$TO" --timeout 20m > "$OUT/apply.log" 2>&1 & ;;
  guide)
    sed -e 's#import_path: fruit.deployment_graph#import_path: rayha_fruit.app:deployment_graph#' \
        -e '/runtime_env:/d' -e '/working_dir: "https/d' \
        -e '/- name: ray-head/{n;a\            env: [{name: RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT, value: "180"}]' -e '}' \
        -e "s#rayproject/ray:$FROM#rayproject/ray:$TO#" -e "s#rayVersion: \"$FROM\"#rayVersion: \"$TO\"#" \
        tests/data/kuberay/ray-service.high-availability.yaml | kubectl apply -n "$NS" -f - > "$OUT/apply.log" 2>&1 & ;;
esac
APPLY_PID=$!

PENDING="" SWITCHED="" GONE=""
while :; do
  p=$(field '{.status.pendingServiceStatus.rayClusterName}')
  a=$(field '{.status.activeServiceStatus.rayClusterName}')
  if [ -z "$PENDING" ] && [ -n "$p" ]; then PENDING=$p; echo "+$(since) s  pending RayCluster $p created"; fi
  if [ -z "$SWITCHED" ] && [ -n "$a" ] && [ "$a" != "$OLD" ]; then
    SWITCHED=$a; echo "+$(since) s  serve Service switched to $a"
  fi
  if [ -n "$SWITCHED" ] && [ -z "$GONE" ] && ! kubectl get rayclusters.ray.io "$OLD" -n "$NS" >/dev/null 2>&1; then
    GONE=1; echo "+$(since) s  old RayCluster $OLD gone"
  fi
  if [ -n "$APPLY_PID" ] && ! kill -0 "$APPLY_PID" 2>/dev/null; then
    wait "$APPLY_PID" && rc=0 || rc=$?
    echo "+$(since) s  apply ended (exit $rc): $(tail -1 "$OUT/apply.log" | cut -c1-120)"
    APPLY_PID=""
  fi
  [ -n "$GONE" ] && [ -z "$APPLY_PID" ] && break
  if [ "$(since | cut -d. -f1)" -ge $DEADLINE ]; then echo "not done within $DEADLINE s" >&2; break; fi
  sleep 1
done
sleep 15
kill -INT "$QUERY_PID"; wait "$QUERY_PID" || true; QUERY_PID=""
image=$(kubectl get pods -n "$NS" -l ray.io/node-type=head -o jsonpath='{.items[0].spec.containers[0].image}')
python3 - "$OUT/query.json" "$image" <<'EOF'
import json, sys
q = json.load(open(sys.argv[1]))
s = q.get("summary", q)
print("query --via pod: %s requests, %s failed, longest without a success %.2f s; head image now %s"
      % (s.get("requests"), s.get("failures"), s.get("longest_without_success_s", 0.0), sys.argv[2]))
EOF
failures=$(python3 -c "import json,sys; q=json.load(open(sys.argv[1])); print(q.get('summary', q).get('failures', 1))" "$OUT/query.json")
[ -n "$GONE" ] && [ "$failures" = 0 ]
