#!/usr/bin/env bash
# Refreshes KubeRay's reference data (see SOURCE.md beside this script).
# Usage: refresh.sh DIR             files from a folder (a ray-operator/ tree or a flat copy)
#        refresh.sh module@VERSION  files from the KubeRay Go module, through the Go module proxy
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A PATHS=(
  [ray.io_rayservices.yaml]=config/crd/bases/ray.io_rayservices.yaml
  [ray-service.high-availability.yaml]=config/samples/ray-service.high-availability.yaml
  [ray-service.sample.yaml]=config/samples/ray-service.sample.yaml
)
src=${1:?usage: refresh.sh DIR | module@VERSION}
if [[ $src == module@* ]]; then
  version=${src#module@}
  dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json \
    "github.com/ray-project/kuberay/ray-operator@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "error: go mod download gave no folder for $version" >&2; exit 1; }
else
  dir=$src
fi
for f in "${!PATHS[@]}"; do
  from=$dir/${PATHS[$f]}
  [ -f "$from" ] || from=$dir/$f   # a flat copy
  [ -f "$from" ] || { echo "error: neither $dir/${PATHS[$f]} nor $dir/$f exists" >&2; exit 1; }
  install -m 644 "$from" "$HERE/$f"
done
echo "copied from $dir; now update the version and this table in SOURCE.md:"
(cd "$HERE" && for f in "${!PATHS[@]}"; do echo "| $f | ${PATHS[$f]} | $(sha256sum "$f" | cut -d' ' -f1) |"; done)
