#!/usr/bin/env bash
# Benchmarks niiv's OpenGL path (render/gl) on a GPU machine (NVIDIA through
# EGL, headless) against the CPU path on the same machine, and checks its
# exactness there first.
#
#   scripts/gpu-bench.sh prepare   on a machine with Go (this repository's
#                                  toolchain): builds out/gpu-bench/ — the
#                                  render/gl test binary (built with -tags egl,
#                                  so it needs only libEGL.so.1 at run time),
#                                  the ONNX Runtime library, and the glvnd
#                                  libEGL/libGLdispatch as a fallback
#   scripts/gpu-bench.sh run       on the GPU machine, from the repository root
#                                  with out/gpu-bench/ copied along: prints the
#                                  GL device, runs the exactness tests, then
#                                  the benchmarks (GL and CPU) and a summary
#   scripts/gpu-bench.sh           prepare when Go is here, then run
#
# Models: $NIIV_BENCH_MODELS (comma-separated model folders, relative to the
# repository root or absolute), else the folders prepare put into
# out/gpu-bench/models, else the shipped models (assets/models/*), else the
# tiny test model. prepare copies the folders in $NIIV_BENCH_MODELS there,
# or, when that is unset and no model is shipped yet, writes random-weight
# models of the lite and paper architectures (speed does not depend on the
# weights) with reconstruct/train's code, if a Python with PyTorch and ONNX
# is at hand. Benchmarks: BenchmarkDraw512 (colour a 512x512
# image), BenchmarkTransfer512 (a 512x512 float frame read back from a GPU
# buffer and uploaded to a texture: what colouring straight from the
# decoder's output would save), BenchmarkView512 (decode an xz view at 512x512, latent cached),
# BenchmarkViewXY512 (an xy view at fractional z, 512x512, latents cached: one
# small decode per xz plane crossed), BenchmarkVolume128 (whole 128^3 from
# factor 8, xz pass) and BenchmarkEncode128 (its 128 slices encoded, per conv
# variant), each for the CPU, for GL with the decoder kernel the
# accelerator picked by timing them (model/gl), for every decoder kernel
# (model/gl/KERNEL; NIIV_BENCH_KERNELS=0 skips these) and for OpenGL 3.3
# (model/gl33). Targets on an
# RTX 3090 Ti-class GPU with the paper model: 128^3 <= 0.11 s, 512x512 <= 5 ms.
#
# Environment: BENCHTIME (default 3x), BENCH (benchmark regexp, default all
# six), NIIV_EGL_PLATFORM (device|surfaceless|default; default device on
# the GPU machine so that Mesa's software renderer is never picked by
# accident).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=out/gpu-bench
cmd=${1:-auto}

# random_models writes random-weight lite and paper models into $1.
random_models() {
  local py=""
  for p in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$p" ] && "$p" -c 'import torch, onnx' >/dev/null 2>&1; then py=$p; break; fi
  done
  if [ -z "$py" ]; then
    echo "gpu-bench: no shipped models and no Python with PyTorch and ONNX: benchmarking the tiny model only" >&2
    return
  fi
  echo "gpu-bench: writing random-weight lite and paper models (no model shipped yet)"
  mkdir -p "$1"
  "$py" - "$1" <<'PY'
import os, sys
sys.path.insert(0, os.path.join("reconstruct", "train"))
import torch
import export as E
import model as M

for preset in ("lite", "paper"):
    out = os.path.join(sys.argv[1], preset)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    net = M.build(preset)
    torch.nn.init.normal_(net.decoder.mlp[-1].weight, std=0.05)
    torch.nn.init.normal_(net.decoder.mlp[-1].bias, std=0.1)
    net = net.eval()
    E.export_onnx(net, out)
    E.write_test_tensors(net, torch.rand(1, 1, 16, 24, generator=torch.Generator().manual_seed(1)), 8, out)
    card = E.base_card(net, preset, 8)
    card.update(dict(name="niiv-%s-random" % preset, normalisation=None, note="random weights, for benchmarks only"))
    E.write_card(out, card)
PY
}

prepare() {
  command -v go >/dev/null || { echo "gpu-bench: prepare needs Go" >&2; exit 1; }
  mkdir -p "$out/lib"
  echo "gpu-bench: building the render/gl test binary (-tags egl)"
  go test -c -tags egl -ldflags="-s -w" -o "$out/glrender.test" ./render/gl
  ort=""
  for c in "${NIIV_ORT_LIB:-}" "${XDG_CACHE_HOME:-$HOME/.cache}"/niiv/onnxruntime-*/libonnxruntime.so.1; do
    [ -n "$c" ] && [ -f "$c" ] && { ort=$c; break; }
  done
  if [ -n "$ort" ]; then
    cp -L "$ort" "$out/libonnxruntime.so.1"
  else
    echo "gpu-bench: no ONNX Runtime library found (run scripts/setup.sh); the GPU machine must have one" >&2
  fi
  rm -rf "$out/models"
  if [ -n "${NIIV_BENCH_MODELS:-}" ]; then
    mkdir -p "$out/models"
    IFS=, read -ra ms <<<"$NIIV_BENCH_MODELS"
    for m in "${ms[@]}"; do
      cp -r "$m" "$out/models/$(basename "$m")"
    done
  elif ! ls assets/models/*/card.json >/dev/null 2>&1; then
    random_models "$out/models"
  fi
  for l in libEGL.so.1 libGLdispatch.so.0; do
    p=$(ldconfig -p 2>/dev/null | awk -v l="$l" '$1 == l && /x86-64/ {print $NF; exit}')
    [ -n "$p" ] && cp -L "$p" "$out/lib/$l"
  done
  du -sh "$out"
  echo "gpu-bench: carry $out to the GPU machine and run: scripts/gpu-bench.sh run"
}

run() {
  [ -x "$out/glrender.test" ] || { echo "gpu-bench: $out/glrender.test missing: run 'scripts/gpu-bench.sh prepare' where Go is installed" >&2; exit 1; }
  echo "== machine"
  uname -srm
  nproc | sed 's/^/cpus: /'
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  else
    echo "nvidia-smi: not found"
  fi
  # EGL through glvnd: use the system's libEGL.so.1, else the copy.
  if ! ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1 '; then
    echo "libEGL.so.1 not installed: using the copy in $out/lib"
    export LD_LIBRARY_PATH="$root/$out/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # glvnd finds NVIDIA's EGL through a vendor file; write one when the
  # driver's library is present but its file is not.
  nv=$(ldconfig -p 2>/dev/null | awk '$1 ~ /^libEGL_nvidia\.so/ {print $NF; exit}')
  if [ -z "$nv" ]; then
    nv=$(ls /usr/lib/x86_64-linux-gnu/libEGL_nvidia.so.* /usr/lib64/libEGL_nvidia.so.* 2>/dev/null | head -n1 || true)
  fi
  if [ -n "$nv" ]; then
    echo "NVIDIA EGL: $nv"
    if ! ls /usr/share/glvnd/egl_vendor.d/*nvidia* /etc/glvnd/egl_vendor.d/*nvidia* >/dev/null 2>&1; then
      vendor=$(mktemp --suffix=.json)
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s"}}\n' "$nv" >"$vendor"
      export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor
      echo "no glvnd vendor file for NVIDIA: using $vendor"
    fi
  else
    echo "NVIDIA EGL library (libEGL_nvidia.so) not found: the container may lack the driver's graphics"
    echo "libraries (NVIDIA_DRIVER_CAPABILITIES needs 'graphics'); GL will fall back or fail"
  fi
  export NIIV_EGL_PLATFORM=${NIIV_EGL_PLATFORM:-device}
  [ -f "$out/libonnxruntime.so.1" ] && export NIIV_ORT_LIB=${NIIV_ORT_LIB:-$root/$out/libonnxruntime.so.1}

  # Models, as paths relative to render/gl (where the tests run).
  models=()
  if [ -n "${NIIV_BENCH_MODELS:-}" ]; then
    IFS=, read -ra models <<<"$NIIV_BENCH_MODELS"
  else
    for c in "$out"/models/*/card.json; do
      [ -f "$c" ] && models+=("$(dirname "$c")")
    done
    if [ ${#models[@]} -eq 0 ]; then
      for c in assets/models/*/card.json; do
        [ -f "$c" ] && models+=("$(dirname "$c")")
      done
    fi
    [ ${#models[@]} -eq 0 ] && models=(testdata/tiny-model)
  fi
  rel=()
  for m in "${models[@]}"; do
    case $m in /*) rel+=("$m") ;; *) rel+=("../../$m") ;; esac
  done
  list=$(IFS=,; echo "${rel[*]}")
  echo "models: ${models[*]}"

  cd render/gl
  bin=../../$out/glrender.test
  echo
  echo "== device and exactness (GL vs the models' test tensors and the CPU path; tolerance 1e-3)"
  NIIV_TEST_MODELS=$list timeout 300 "$bin" -test.v -test.count=1 \
    -test.run 'TestOpenInfo|TestDrawMatchesCPU|TestExactness|TestNiivMatchesCPU|TestTune' 2>&1 |
    grep -E '^(---|ok|FAIL|PASS)|OpenGL:|max abs|pixels differ|skipping|glrender|kept' || true
  echo
  echo "== benchmarks (ns/op; GL includes upload and read-back; gpu-ms/op: the GL dispatches alone;"
  echo "   model/gl: the decoder kernel the accelerator's timing picked; model/gl/KERNEL: each kernel)"
  NIIV_BENCH_MODELS=$list timeout 540 "$bin" -test.run '^$' \
    -test.bench "${BENCH:-Draw512|Transfer512|View512|ViewXY512|Volume128|Encode128}" -test.benchtime "${BENCHTIME:-3x}" 2>&1 |
    tee /tmp/gpu-bench.txt | grep -E '^(Benchmark|---|FAIL|ok)|skipping|decoder kernel' || true
  echo
  echo "== summary (ms per operation)"
  awk '/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); gpu=""
    if ($6 == "gpu-ms/op") gpu=sprintf("  (GPU dispatches %.2f ms)", $5)
    printf "%-50s %10.2f ms%s\n", name, $3/1e6, gpu }' /tmp/gpu-bench.txt
  echo
  echo "== targets (paper model, GL with the kernel the timing picked)"
  awk 'function check(what, ms, goal) {
      printf "%-40s %10.2f ms  (goal <= %g ms: %s)\n", what, ms, goal, ms <= goal ? "met" : "not met" }
    /^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name)
      if (name ~ /^BenchmarkView512\/paper[^\/]*\/gl$/) check("512x512 view (latent cached)", $3/1e6, 5)
      if (name ~ /^BenchmarkVolume128\/paper[^\/]*\/gl$/) check("whole 128^3 volume, xz pass", $3/1e6, 110) }' /tmp/gpu-bench.txt
}

case $cmd in
  prepare) prepare ;;
  run) run ;;
  auto)
    if command -v go >/dev/null; then prepare; fi
    run
    ;;
  *) echo "usage: scripts/gpu-bench.sh [prepare|run]" >&2; exit 2 ;;
esac
