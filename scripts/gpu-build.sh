# Sourced by the GPU scripts: configures (LibTorch from the machine's PyTorch, CUDA on, the
# device-deps prefix) and builds the given targets into $build; exports LD_LIBRARY_PATH.
#   source scripts/gpu-build.sh TARGET...     (BUILD_DIR, CUDA_ARCHS, JOBS, XLSTM_DEVICE_DEPS, OUT)
build=${BUILD_DIR:-/tmp/xlstm-gpu-build}
deps=$(realpath -m "${XLSTM_DEVICE_DEPS:-$(pwd)/.device-deps}")
logs=${OUT:-$(pwd)/gpu-check-out}
mkdir -p "$logs"
echo "== configure ($(date +%T))"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXLSTM_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" \
  >"$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; return 1; }
grep -E 'xlstm: nvcc' "$logs/configure.log"
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
echo "== build $* ($(date +%T))"
ninja -C "$build" -j"${JOBS:-16}" "$@" >"$logs/build.log" 2>&1 ||
  { grep -E -A5 'error|FAILED' "$logs/build.log" | head -60; return 1; }
