# Shared by the rig scripts (soak-head.sh, node-loss.sh): the rig's environment, the two
# manifests they compare, and the cleanup of a namespace. Source it from the repo root.

rig_env() {
  set -a; eval "$(bash rig/rig env)"; set +a
  [ "${RAYHA_RIG_REAL_PODS:-0}" = 1 ] || { echo "the rig runs no real pods (rig/agent/agent start)" >&2; exit 1; }
  cargo build -q
  RAYHA=$PWD/target/debug/kubectl-rayha
}

# deploy_bundle NS [APPLY-FLAGS...]: the generated bundle, the rig's fruit app, Ready.
deploy_bundle() {
  local ns=$1; shift
  "$RAYHA" apply -n "$ns" --import-path rayha_fruit.app:deployment_graph --working-dir "" \
    --timeout 10m "$@"
}

# deploy_guide NS [timeout]: KubeRay's HA manifest (app source swapped for the rig's fruit app
# only; with "timeout", RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT=180 on the head), until
# Ready with three serve endpoints.
deploy_guide() {
  local ns=$1 timeout_env=() t0=$SECONDS
  [ "${2:-}" = timeout ] && timeout_env=(-e '/- name: ray-head/{n;a\            env: [{name: RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT, value: "180"}]' -e '}')
  sed -e 's#import_path: fruit.deployment_graph#import_path: rayha_fruit.app:deployment_graph#' \
      -e '/runtime_env:/d' -e '/working_dir: "https/d' "${timeout_env[@]}" \
      tests/data/kuberay/ray-service.high-availability.yaml | kubectl apply -n "$ns" -f - >/dev/null
  until [ "$(kubectl get rayservices.ray.io rayservice-ha -n "$ns" -o jsonpath='{.status.numServeEndpoints}' 2>/dev/null)" = 3 ] &&
        kubectl get rayservices.ray.io rayservice-ha -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; do
    [ $((SECONDS - t0)) -lt 600 ] || { echo "guide manifest not Ready in 600 s" >&2; return 1; }
    sleep 3
  done
}

# cleanup_ns NS: the RayService first (its RayCluster's Redis cleanup finalizer needs a live
# namespace), then its RayClusters (whose cleanup Job cannot start in a terminating namespace).
cleanup_ns() {
  kubectl delete rayservices.ray.io --all -n "$1" --wait=true --timeout=300s >/dev/null 2>&1 || true
  kubectl wait --for=delete rayclusters.ray.io --all -n "$1" --timeout=300s >/dev/null 2>&1 || true
  kubectl delete namespace "$1" --wait=false >/dev/null 2>&1 || true
}
