#!/usr/bin/env bash
# Head-kill soak on the test rig (real Ray, rig part 2): N head kills in a row under the drill's
# own load plus a client loop inside the cluster, for the generated bundle or for KubeRay's own HA
# manifest (app source swapped for the rig's fruit app only). Prints each round's recovery, the
# min/median/max, the failed requests of both loads, and the diagnosis of a head that did not
# come back (failover ends the series there). Run by hand; too long for CI (about 2 min a kill).
#
#   scripts/soak-head.sh bundle|guide|guide-timeout [KILLS]   (default 20; needs `rig/rig up` with real pods)
#
# guide-timeout: the guide's manifest with one change, RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT=180
# on the head (what `kubectl rayha lint` asks for as head-start-timeout).
# The numbers go to stdout, the drill's JSON report and the loop's log to target/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:?usage: scripts/soak-head.sh bundle|guide|guide-timeout [KILLS]}
KILLS=${2:-20}
. scripts/rig-lib.sh
rig_env
NS=soak-$WHAT-$$
OUT=target/soak
mkdir -p "$OUT"
REPORT=$OUT/soak-$WHAT-$(date -u +%Y%m%dT%H%M).json
LOOP_LOG=$OUT/$NS-query.log
LOOP_PID=""

cleanup() {
  [ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null || true
  cleanup_ns "$NS"
}
trap cleanup EXIT
kubectl create namespace "$NS" >/dev/null

case $WHAT in
  bundle)
    # The generated bundle with its tester pod, whose loop is the in-cluster client.
    deploy_bundle "$NS" --with-tester
    ;;
  guide|guide-timeout)
    deploy_guide "$NS" "${WHAT#guide-}"
    # The guide's own loop, in the guide's pod, as its guide runs it.
    kubectl exec -n "$NS" ray-pod -- python3 /home/ray/samples/query.py >"$LOOP_LOG" 2>&1 &
    LOOP_PID=$!
    ;;
  *) echo "bundle, guide or guide-timeout, not $WHAT" >&2; exit 2 ;;
esac

echo "== $WHAT: $KILLS head kills in $NS"
set +e
"$RAYHA" failover rayservice-ha -n "$NS" -y --rounds "$KILLS" --report "$REPORT" --quiet
rc=$?
set -e

echo "== results ($WHAT, exit $rc, report $REPORT)"
python3 - "$REPORT" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
rec = [x["recovery_s"] for x in r["rounds"] if x["recovery_s"] is not None]
for x in r["rounds"]:
    q = x["requests"]
    print(f'round {x["round"]:>2}: recovery {x["recovery_s"] if x["recovery_s"] is not None else "none":>7}  '
          f'requests {q["requests"]:>6}  failures {q["failures"]}')
    if x.get("diagnosis"):
        d = x["diagnosis"]
        print(f'  not back: {d["cause"]}\n  fix: {d["fix"]}')
if rec:
    print(f'recovery over {len(rec)} of {len(r["rounds"])} kill(s): min {min(rec):.1f} s, '
          f'median {statistics.median(rec):.1f} s, max {max(rec):.1f} s')
print(f'drill load: {r["total_requests"]} requests, {r["total_failures"]} failed')
PY
case $WHAT in
  bundle)
    pod=$(kubectl get pods -n "$NS" -l app.kubernetes.io/component=tester -o name | head -n1)
    [ -n "$pod" ] && kubectl logs -n "$NS" "$pod" --tail 2 | sed 's/^/tester loop, last lines: /' ;;
  guide|guide-timeout)
    tail -n 2 "$LOOP_LOG" | sed 's/^/query.py, last lines: /' ;;
esac
exit "$rc"
