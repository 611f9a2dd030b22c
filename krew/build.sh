#!/usr/bin/env bash
# Builds the linux-amd64 release archive and the krew manifest for it.
#   krew/build.sh BASE_URL [HOMEPAGE]   e.g. krew/build.sh https://example.org/releases/v0.1.0
# Writes dist/kubectl-rayha-linux-amd64.tar.gz and dist/rayha.yaml (uri = BASE_URL/<archive>).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: krew/build.sh BASE_URL [HOMEPAGE]}
homepage=${2:-$base}
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
cargo build --release --locked -q
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
cp target/release/kubectl-rayha README.md LICENSE "$stage/"
cp -r completions "$stage/completions"
mkdir -p dist
archive=dist/kubectl-rayha-linux-amd64.tar.gz
# Reproducible archive: fixed order, owner and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -czf "$archive" .
sha=$(sha256sum "$archive" | cut -d' ' -f1)
VERSION=$version HOMEPAGE=$homepage URI="$base/$(basename "$archive")" SHA256=$sha \
  envsubst '${VERSION} ${HOMEPAGE} ${URI} ${SHA256}' < krew/rayha.yaml.tmpl > dist/rayha.yaml
echo "wrote $archive (sha256 $sha) and dist/rayha.yaml"
