#!/usr/bin/env bash
# Redis loss on the test rig (real Ray), run by hand; prints one line per drill and the totals.
#
#   scripts/redis-drill.sh bundle [ROUNDS]   the generated bundle (Redis /data on a PVC of the
#                                            rig's default class): ROUNDS times a head drill then
#                                            a Redis drill, each `failover --via proxy,pod`
#                                            (default 3, issue 14 acceptance 3)
#   scripts/redis-drill.sh none              the bundle with --redis-storage none: one Redis drill
#                                            (it fails: the GCS comes back against an empty Redis)
#   scripts/redis-drill.sh guide             KubeRay's HA manifest: one Redis drill (its Redis keeps
#                                            /data in the container: it fails the same way)
#
# Needs `rig/rig up` with real pods. Reports go to target/redis-drill/. Exit 0 when every drill
# passed (for none and guide: when the drill failed for the lost state, as it must).
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:?usage: scripts/redis-drill.sh bundle|none|guide [ROUNDS]}
ROUNDS=${2:-3}
case $WHAT in bundle|none|guide) ;; *) echo "bundle, none or guide, not $WHAT" >&2; exit 2 ;; esac
. scripts/rig-lib.sh
rig_env
NS=redis-$WHAT-$$
OUT=target/redis-drill/$NS
mkdir -p "$OUT"
trap 'cleanup_ns "$NS"' EXIT
kubectl create namespace "$NS" >/dev/null
case $WHAT in
  bundle) deploy_bundle "$NS" >/dev/null ;;
  none) deploy_bundle "$NS" --redis-storage none >/dev/null ;;
  guide) deploy_guide "$NS" timeout ;;
esac

# drill N TARGET: one round, its report in $OUT; prints its numbers; returns failover's exit.
drill() {
  local n=$1 target=$2 rc=0 f="$OUT/$1-$2.json"
  "$RAYHA" failover rayservice-ha -n "$NS" -y --target "$target" --via proxy,pod -o json >"$f" \
    2>"$OUT/$n-$target.err" || rc=$?
  python3 - "$f" "$n" "$target" "$rc" <<'EOF'
import json, sys
path, n, target, rc = sys.argv[1:]
r = json.load(open(path))
x = r["rounds"][0]
s = x["survival"]
g = x.get("gcs") or {}
print("%s %-5s exit %s  %5d requests %2d failed  recovery %6s s  workers restarted %-3s replicas kept %-3s%s" % (
    n, target, rc, r["total_requests"], r["total_failures"],
    "%.1f" % x["recovery_s"] if x["recovery_s"] is not None else "-",
    "yes" if s["workers_restarted_or_replaced"] else "no",
    "yes" if s["replicas_unchanged"] else "no",
    ("  GCS away %s s, state kept %s (%s)" % (g.get("away_s") and "%.1f" % g["away_s"], g.get("state_kept"), g.get("redis_data"))) if g else ""))
for reason in r["reasons"]:
    print("    " + reason)
EOF
  return $rc
}

fails=0
if [ "$WHAT" = bundle ]; then
  for i in $(seq "$ROUNDS"); do
    drill "$i" head || fails=$((fails + 1))
    drill "$i" redis || fails=$((fails + 1))
  done
  echo "$((2 * ROUNDS)) drills, $fails failed (reports: $OUT)"
  [ $fails = 0 ]
else
  if drill 1 redis; then
    echo "the drill passed: it should have failed (lost state)"; exit 1
  fi
  grep -q "did not come back from Redis\|worker pods restarted" "$OUT/1-redis.json" &&
    echo "failed as it must: Ray's state did not come back (reports: $OUT)"
fi
