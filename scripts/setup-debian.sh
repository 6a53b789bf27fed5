#!/usr/bin/env bash
# Installs the Debian packages that xlstm-cpp builds with (skips the install when all are present).
set -euo pipefail
packages=(cmake ninja-build g++ libtorch-dev libyaml-cpp-dev libcli11-dev libgtest-dev
          libgloo-dev)  # libgloo-dev: the headers of the Gloo that libtorch links (c10d ProcessGroupGloo)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
