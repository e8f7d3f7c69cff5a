#!/bin/sh
# Prepares podman to build the Dockerfile with no registry of images in reach:
#   scripts/podman-stand-ins.sh CACHE STORAGE
# STORAGE gets a private podman (containers.conf, storage.conf, its own image store); use it with
#   CONTAINERS_CONF=STORAGE/containers.conf CONTAINERS_STORAGE_CONF=STORAGE/storage.conf podman ...
# and there the Dockerfile's base image, docker.io/library/node:24-bookworm-slim, is a local
# stand-in: a Debian bookworm minbase root filesystem (mmdebstrap, from the Debian mirror this
# machine's apt uses) with Node 24 and npm from their npm packages (scripts/install-node.sh).
# CACHE keeps the root filesystem and Node between runs (e.g. .tools/images): a second run
# only imports them.
set -eu

BASE_IMAGE=docker.io/library/node:24-bookworm-slim
SUITE=bookworm

if [ "$#" -ne 2 ]; then
  echo "usage: $0 CACHE STORAGE" >&2
  exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1" "$2"
cache=$(cd "$1" && pwd)
storage=$(cd "$2" && pwd)

# The first "deb" URI of apt's sources that serves $SUITE itself (not -security or -updates),
# in either format: one-line (sources.list) or deb822 (*.sources).
debian_mirror() {
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk -v suite="$SUITE" '
      /^[ \t]*deb[ \t]/ {
        sub(/\[[^]]*\][ \t]*/, "")
        if ($3 == suite) { print $2; exit }
      }
      /^Types:/ { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
      /^[ \t]*$/ { if (deb && found && uri) { print uri; exit } deb = 0; found = 0; uri = "" }
      END { if (deb && found && uri) print uri }
    ' "$file" | head -n 1
  done | head -n 1
}

# A private podman: runc and cgroupfs (crun refuses some hosts' cgroups), events in a file,
# ulimits no higher than a root without CAP_SYS_RESOURCE may set, the overlay driver.
mkdir -p "$storage/graph" "$storage/run" "$storage/tmp" "$storage/volumes"
cat >"$storage/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$storage/tmp"
volume_path = "$storage/volumes"
EOF
cat >"$storage/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$storage/graph"
runroot = "$storage/run"
EOF
export CONTAINERS_CONF="$storage/containers.conf" CONTAINERS_STORAGE_CONF="$storage/storage.conf"

rootfs="$cache/$SUITE-minbase.tar"
if [ ! -s "$rootfs" ]; then
  mirror=$(debian_mirror)
  if [ -z "$mirror" ]; then
    echo "$0: no Debian mirror for $SUITE in /etc/apt/sources.list*" >&2
    exit 1
  fi
  mmdebstrap --variant=minbase --format=tar --quiet "$SUITE" "$rootfs.partial" "$mirror"
  mv "$rootfs.partial" "$rootfs"
fi
"$here/install-node.sh" "$cache" >/dev/null

if ! podman image exists "$BASE_IMAGE"; then
  podman import --quiet "$rootfs" "localhost/stand-in/$SUITE-minbase" >/dev/null
  printf 'FROM localhost/stand-in/%s-minbase\nCOPY . /usr/local/\nCMD ["node"]\n' "$SUITE" >"$storage/tmp/Containerfile"
  podman build --quiet --network none --tag "$BASE_IMAGE" --file "$storage/tmp/Containerfile" "$cache/node" >/dev/null
fi
echo "$BASE_IMAGE: $(podman run --rm --network none "$BASE_IMAGE" node --version)"
