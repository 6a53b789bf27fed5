#!/usr/bin/env bash
# Installs the Debian packages that xlstm-cpp builds with (skips the install when all are present).
# libopenblas0-pthread: OpenBLAS becomes the system BLAS (libblas.so.3) through Debian's alternatives,
# so LibTorch's CPU matrix products no longer run on the slow reference BLAS (a choice made by hand
# with update-alternatives stays: `update-alternatives --display libblas.so.3-x86_64-linux-gnu`).
set -euo pipefail
packages=(cmake ninja-build g++ libtorch-dev libyaml-cpp-dev libcli11-dev libgtest-dev
          libgloo-dev  # the headers of the Gloo that libtorch links (c10d ProcessGroupGloo)
          libopenblas0-pthread)
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
