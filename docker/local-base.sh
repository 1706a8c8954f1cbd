#!/bin/sh
# Build a local stand-in for the python:3.11-slim base image from Debian packages, for machines that
# cannot pull from Docker Hub. Debian bookworm's python3 is 3.11.
#
#   sudo docker/local-base.sh                      # imports baton-local-base:bookworm
#   docker build --build-arg BASE_IMAGE=baton-local-base:bookworm -t baton .
#
# Needs root, debootstrap and a running Docker engine. DEBIAN_MIRROR picks the mirror.
set -eu

tag=${1:-baton-local-base:bookworm}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

root=$(mktemp -d /tmp/baton-local-base.XXXXXX)
trap 'rm -rf "$root"' EXIT

# minbase has apt, dpkg and passwd (useradd); python3-venv brings ensurepip's wheels.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$root" "$mirror"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*

tar --numeric-owner -C "$root" -c . |
    docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$tag"
docker image ls "$tag"
