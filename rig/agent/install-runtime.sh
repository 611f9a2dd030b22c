#!/usr/bin/env bash
# Installs what rig part 2 (the node agent) needs on a machine of this kind:
#   - Debian packages: redis-server (image redis:*), wget (KubeRay's exec probes),
#     iptables + conntrack (kube-proxy in the router netns), socat (apiserver bridge
#     into the router netns), util-linux (nsenter/unshare), iproute2.
#   - Ray runtimes: one venv per Ray version under $RAYHA_RIG_CACHE/ray-<ver>/ with
#     ray[serve]==<ver> from PyPI and the rig's own fruit-stand app (rig/apps).
# Usage: rig/agent/install-runtime.sh [apt] [ray VERSION...]   (no args: apt + ray 2.52.0)
# Idempotent: a venv is reused when its .complete marker exists.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${RAYHA_RIG_CACHE:-/var/cache/kubectl-rayha-rig}
PY=${RAYHA_RIG_PYTHON:-/usr/bin/python3}
DEBS=(redis-server wget iptables conntrack socat util-linux iproute2 procps)
log() { printf '[rig-runtime %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

install_apt() {
  local missing=() p
  for p in "${DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] && return 0
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system redis-server on 127.0.0.1:6379: the rig only wants the binary.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q redis-server 2>/dev/null; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
}

install_app() { # VENV-DIR: the rig's fruit app, built from a copy so the checkout stays clean
  local tmp; tmp=$(mktemp -d)
  cp -r "$HERE/../apps/." "$tmp/"
  rm -rf "$tmp/build" "$tmp"/*.egg-info
  "$1/bin/pip" install -q --disable-pip-version-check --no-deps --no-index --no-build-isolation --force-reinstall "$tmp" >/dev/null
  rm -rf "$tmp"
}

# Ray's dependencies are not pinned upwards: a venv made today with the newest protobuf,
# starlette, ... breaks an older Ray (e.g. Ray 2.52.0 with protobuf 7 fails every Serve deploy
# in DeploymentConfig.from_proto).  So each Ray version is installed with only the packages
# uploaded before a cut-off shortly after its release (pip --uploaded-prior-to).
deps_cutoff() { # VERSION -> ISO date ("" = none)
  if [ -n "${RAYHA_RIG_PIP_CUTOFF:-}" ]; then echo "$RAYHA_RIG_PIP_CUTOFF"; return; fi
  case $1 in
    2.52.0|2.52.1) echo 2025-12-10T00:00:00Z ;;
    2.41.0) echo 2025-01-31T00:00:00Z ;;
    2.60.0) echo 2026-11-30T00:00:00Z ;;   # the newest Ray on the day the rig added it
    *) echo "" ;;
  esac
}

install_ray() { # VERSION
  local v=$1 dir=$CACHE/ray-$1 t0=$SECONDS cutoff
  cutoff=$(deps_cutoff "$v")
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.deps-cutoff" 2>/dev/null)" != "$cutoff" ]; then
    log "Ray $v venv was made with another dependency cut-off: rebuilding"
    rm -f "$dir/.complete"
  fi
  if [ -f "$dir/.complete" ]; then
    # keep the rig's app current (cheap, no network)
    install_app "$dir"
    return 0
  fi
  log "creating Ray $v venv in $dir (ray[serve]==$v from PyPI)"
  rm -rf "$dir.tmp"; mkdir -p "$CACHE"
  "$PY" -m venv "$dir.tmp"
  "$dir.tmp/bin/pip" install -q --disable-pip-version-check --upgrade pip setuptools wheel
  [ -n "$cutoff" ] || log "no dependency cut-off known for Ray $v: using the newest dependencies"
  "$dir.tmp/bin/pip" install -q --disable-pip-version-check ${cutoff:+--uploaded-prior-to "$cutoff"} "ray[serve]==$v"
  echo "$cutoff" >"$dir.tmp/.deps-cutoff"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  # venv scripts have the build path in their shebang: recreate them at the final path
  "$PY" -m venv --upgrade "$dir" >/dev/null
  sed -i "1s|^#!.*$dir.tmp/bin/python.*|#!$dir/bin/python|" "$dir"/bin/* 2>/dev/null || true
  sed -i "s|$dir.tmp|$dir|g" "$dir/bin/activate"* 2>/dev/null || true
  install_app "$dir"
  "$dir/bin/python" -c "import ray, ray.serve, rayha_fruit; print(ray.__version__)" >/dev/null
  echo "$((SECONDS - t0))" >"$dir/.install-seconds"
  date -u +%FT%TZ >"$dir/.complete"
  log "Ray $v ready in $((SECONDS - t0))s"
}

if [ $# = 0 ]; then set -- apt ray 2.52.0; fi
while [ $# -gt 0 ]; do
  case $1 in
    apt) install_apt; shift ;;
    ray) shift; while [ $# -gt 0 ] && [ "$1" != apt ]; do install_ray "$1"; shift; done ;;
    *) echo "usage: $0 [apt] [ray VERSION...]" >&2; exit 2 ;;
  esac
done
