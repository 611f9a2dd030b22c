#!/usr/bin/env bash
# A node powered off on the test rig (real Ray, rig part 2): the node of the head, of a worker or
# of Redis dies as a machine does (`rig/agent/agent node-down`: no more heartbeats, its pods' processes
# killed, their addresses silent), with a one-in-flight client loop (a fresh connection per
# request, 10 s timeout, through <name>-serve-svc and kube-proxy) in a pod on another node.
# Unless the RayService is whole again by itself first, ACT seconds after the power-off the node
# gets Kubernetes' out-of-service taint (what its "non-graceful node shutdown" asks for once the
# machine is known to be off); the script then waits for the RayService to be whole again. Prints the timeline and the numbers: failed
# requests, when the endpoints dropped the dead pods, when they were deleted and replaced, and
# whether Serve's state was kept (replica actor ids, worker restarts). Run by hand (5-10 min).
#
#   scripts/node-loss.sh bundle|guide head|worker|redis [ACT]   (ACT default 150; needs
#                                                              `rig/rig up` with real pods)
#
# The node is powered on and untainted at the end, whatever happens. Logs go to target/node-loss/.
# Exit 0 when the RayService was whole again within the deadline.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:?usage: scripts/node-loss.sh bundle|guide head|worker [ACT]}
ROLE=${2:?usage: scripts/node-loss.sh bundle|guide head|worker|redis [ACT]}
ACT=${3:-150}
RECOVERY_DEADLINE=420   # seconds after the taint
case $WHAT in bundle|guide) ;; *) echo "bundle or guide, not $WHAT" >&2; exit 2 ;; esac
case $ROLE in head|worker|redis) ;; *) echo "head, worker or redis, not $ROLE" >&2; exit 2 ;; esac
. scripts/rig-lib.sh
rig_env
NS=nodeloss-$WHAT-$ROLE-$$
OUT=target/node-loss/$NS
mkdir -p "$OUT"
NODE="" PROBE_PID="" WATCH_PID=""
RS=rayservice-ha

cleanup() {
  [ -n "$PROBE_PID" ] && kill "$PROBE_PID" 2>/dev/null || true
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null || true
  if [ -n "$NODE" ]; then
    bash rig/agent/agent node-up "$NODE" || true
    kubectl taint node "$NODE" node.kubernetes.io/out-of-service- >/dev/null 2>&1 || true
  fi
  cleanup_ns "$NS"
}
trap cleanup EXIT
kubectl create namespace "$NS" >/dev/null

echo "== $WHAT in $NS"
case $WHAT in
  bundle) deploy_bundle "$NS" >/dev/null ;;
  guide) deploy_guide "$NS" ;;
esac

pods() { kubectl get pods -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.labels.ray\.io/node-type}{"\n"}{end}'; }
# Redis's pod is the one whose name says so (the bundle's and the guide's Deployment both do).
read -r VICTIM NODE _ < <(pods | awk -v r="$ROLE" '(r == "redis" && $1 ~ /redis/ && NF == 2) || $3 == r' | head -n1)
[ -n "$NODE" ] || { echo "no $ROLE pod" >&2; exit 1; }
# The client runs on a node that keeps its power.
CLIENT_NODE=$(kubectl get nodes -l rig.kubectl-rayha/node -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' |
  grep -vx "$NODE" | head -n1)
echo "victim: $ROLE pod $VICTIM on $NODE; pods there:"
kubectl get pods -n "$NS" --field-selector "spec.nodeName=$NODE" -o name | sed 's/^/  /'
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: nodeloss-client}
spec:
  nodeName: $CLIENT_NODE
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: rayproject/ray:2.52.0
    command: [python, -c, "import time; time.sleep(100000)"]
EOF
kubectl wait -n "$NS" --for=condition=Ready pod/nodeloss-client --timeout=120s >/dev/null
"$RAYHA" status "$RS" -n "$NS" -o json >"$OUT/status-before.json" || true

bash rig/agent/agent exec "$NS" nodeloss-client -- python "$PWD/rig/agent/drill_probe.py" \
  $((ACT + RECOVERY_DEADLINE + 60)) '["PEAR", 12]' 12 "http://$RS-serve-svc:8000/fruit/" \
  >"$OUT/probe.log" 2>/dev/null &
PROBE_PID=$!
sleep 10   # a baseline before the power-off

T0=$(date +%s.%N)
python3 scripts/node_loss_watch.py "$NS" "$RS" "$NODE" "$T0" $((ACT + RECOVERY_DEADLINE)) >"$OUT/timeline.log" &
WATCH_PID=$!
bash rig/agent/agent node-down "$NODE"
echo "== $NODE powered off; the out-of-service taint at $ACT s unless whole again before"

# Whole: the RayService Ready with three ready serve endpoints, three Ray pods that are not being
# deleted and are Ready, and Redis Ready. Right after the power-off it still looks whole (nobody
# has noticed yet): it counts once it was broken and is whole again.
whole() {
  kubectl get pods,deployments,endpointslices,rayservices.ray.io -n "$NS" -o json | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
kind = lambda k: [o for o in items if o["kind"] == k]
ready = lambda o: any(c["type"] == "Ready" and c["status"] == "True" for c in (o.get("status") or {}).get("conditions") or [])
ray = [p for p in kind("Pod") if "ray.io/node-type" in (p["metadata"].get("labels") or {}) and not p["metadata"].get("deletionTimestamp")]
eps = [e for s in kind("EndpointSlice") if s["metadata"]["labels"].get("kubernetes.io/service-name") == sys.argv[1] + "-serve-svc"
       for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")]
ok = (len(eps) == 3 and all(ready(r) for r in kind("RayService")) and len(ray) == 3 and all(map(ready, ray))
      and all((d.get("status") or {}).get("readyReplicas", 0) >= d["spec"]["replicas"] for d in kind("Deployment")))
sys.exit(0 if ok else 1)' "$RS"
}
since() { python3 -c "import time; print(round(time.time() - $T0, 1))"; }
T_TAINT="" T_WHOLE="" BROKEN=""
while python3 -c "import sys, time; sys.exit(time.time() - $T0 > $ACT + $RECOVERY_DEADLINE)"; do
  if whole; then
    [ -n "$BROKEN" ] && { T_WHOLE=$(since); break; }
  else
    BROKEN=1
  fi
  if [ -z "$T_TAINT" ] && python3 -c "import sys, time; sys.exit(time.time() - $T0 < $ACT)"; then
    "$RAYHA" status "$RS" -n "$NS" >"$OUT/status-before-taint.txt" 2>&1 || true
    T_TAINT=$(since)
    kubectl taint node "$NODE" node.kubernetes.io/out-of-service=nodeshutdown:NoExecute >/dev/null
  fi
  sleep 2
done
sleep 5   # the client's last requests
kill "$PROBE_PID" "$WATCH_PID" 2>/dev/null || true
PROBE_PID="" WATCH_PID=""
"$RAYHA" status "$RS" -n "$NS" -o json >"$OUT/status-after.json" || true

echo "== timeline (t = seconds since the power-off)"
grep '^t=' "$OUT/timeline.log" || true
echo "  t=${T_TAINT:-(none)} out-of-service taint"
echo "== results: $WHAT, $ROLE's node ($NODE), taint at ${T_TAINT:-(none, whole before $ACT s)} s"
python3 - "$OUT" "$T0" "${T_WHOLE:-}" <<'PY'
import json, sys
out, t0, whole = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rows = [json.loads(l) for l in open(out + "/probe.log") if l.startswith("{")]
fails = [r for r in rows if not r["ok"]]
after = [r for r in rows if r["t"] >= t0]
print(f"client: {len(rows)} requests, {len(fails)} failed ({len([r for r in after if not r['ok']])} after the power-off)")
if fails:
    kinds = {}
    for r in fails:
        kinds[r["error"].split(":")[0]] = kinds.get(r["error"].split(":")[0], 0) + 1
    print(f"  failures from t={fails[0]['t'] - t0:.1f} to t={fails[-1]['t'] - t0:.1f} s: {kinds}")
def load(name):
    try:
        return json.load(open(f"{out}/{name}"))
    except (OSError, ValueError):
        return {}
b, a = load("status-before.json"), load("status-after.json")
ids = lambda s: sorted(r["actor_id"] for r in s.get("replicas") or [])
kept = set(ids(b)) & set(ids(a))
if a.get("dashboard_error"):
    print(f"replica actors: {len(ids(b))} before, not readable after (dashboard: {a['dashboard_error']})")
else:
    print(f"replica actors: {len(ids(b))} before, {len(ids(a))} after, {len(kept)} kept; apps after: {a.get('applications')}")
wb = {p["name"]: p["restarts"] for p in b.get("pods") or [] if p.get("role") == "worker"}
wa = {p["name"]: p["restarts"] for p in a.get("pods") or [] if p.get("role") == "worker"}
print("workers restarted: " + (", ".join(f"{n} ({wb[n]} -> {wa[n]})" for n in wb if n in wa and wa[n] > wb[n]) or "none"))
print(f"whole again (3 ready serve endpoints, RayService Ready, 3 Ray pods and Redis Ready): "
      + (f"t={whole} s" if whole else "not within the deadline"))
PY
if [ -n "$T_TAINT" ]; then echo "(status at the taint: $OUT/status-before-taint.txt)"; fi
[ -n "$T_WHOLE" ]   # the exit status: whole again or not
