#!/usr/bin/env bash
# Installs what niiv needs to build, run and test, skipping whatever is
# already there. Safe to run any number of times.
#
#   scripts/setup.sh build   apt packages for Fyne's cgo build, ONNX Runtime
#   scripts/setup.sh test    the above plus Xvfb, xdotool, ImageMagick,
#                            PyTorch (with OpenBLAS), ONNX, tifffile, zarr,
#                            numcodecs, h5py and mrcfile for the test suite,
#                            `niiv bench` and training
set -euo pipefail

want=${1:-build}
ORT_VERSION=1.24.1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/niiv
ORT_DIR=$CACHE/onnxruntime-$ORT_VERSION

pkgs=(gcc pkg-config libgl1-mesa-dev xorg-dev libegl-dev libegl-mesa0 libgl1-mesa-dri)
if [ "$want" = test ]; then
  pkgs+=(xvfb xdotool imagemagick python3-torch python3-onnx python3-numpy python3-pytest python3-tifffile)
  # Debian's python3-torch links the generic libblas.so.3, and with
  # --no-install-recommends nothing but the reference BLAS (libblas3) provides
  # it: PyTorch's matrix products then run 15-50x slower (a 2048^3 float32
  # product at 2.5-5 GFLOP/s instead of about 130 on 2 idle cores), which
  # cripples `niiv bench`'s PyTorch reference and makes `make train` take days.
  # OpenBLAS registers a higher-priority alternative for libblas.so.3, so
  # installing it is enough (`niiv bench` and reconstruct/train warn if not).
  pkgs+=(libopenblas0-pthread)
  # Reference implementations of the chunked and electron-microscopy formats
  # (Zarr v2 and N5, the Blosc/Zstandard codecs, HDF5, MRC): the format tests
  # make their fixtures with them and read back what niiv writes.
  pkgs+=(python3-zarr python3-numcodecs python3-h5py python3-mrcfile python3-fsspec)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: missing ${missing[*]}; install them with your system's package manager" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# OpenBLAS only wins the libblas.so.3 alternative in auto mode: say so if an
# administrator pinned another implementation (nothing is changed here).
if [ "$want" = test ]; then
  for lib in /usr/lib/*-linux-gnu/libblas.so.3; do
    [ -e "$lib" ] || continue
    case "$(readlink -f "$lib")" in
      *openblas*) ;;
      *) echo "setup: warning: $lib is $(readlink -f "$lib"), not OpenBLAS: PyTorch's matrix products will be" \
           "15-50x slower; sudo update-alternatives --auto libblas.so.3-$(basename "$(dirname "$lib")")" >&2 ;;
    esac
  done
fi

# ONNX Runtime shared library, from the npm package that ships it.
if [ ! -f "$ORT_DIR/libonnxruntime.so.1" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) sub=linux/x64 ;;
    Linux-aarch64) sub=linux/arm64 ;;
    *) echo "setup: no ONNX Runtime download for $(uname -sm); set NIIV_ORT_LIB to your libonnxruntime" >&2; exit 0 ;;
  esac
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch ONNX Runtime (apt-get install npm)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "setup: fetching ONNX Runtime $ORT_VERSION"
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  tar -xzf "$tmp"/onnxruntime-node-$ORT_VERSION.tgz -C "$tmp" "package/bin/napi-v6/$sub"
  mkdir -p "$ORT_DIR"
  cp "$tmp/package/bin/napi-v6/$sub/libonnxruntime.so.1" "$ORT_DIR/libonnxruntime.so.1.tmp"
  mv "$ORT_DIR/libonnxruntime.so.1.tmp" "$ORT_DIR/libonnxruntime.so.1"
fi
# Zarr v3 and sharding: Debian's zarr predates them, so the format tests use
# the JavaScript implementation (zarrita) as their second reference.
if [ "$want" = test ] && [ ! -d "$CACHE/node/node_modules/zarrita" ] && command -v npm >/dev/null; then
  echo "setup: fetching zarrita (Zarr v3 reference for the tests)"
  npm install --silent --prefix "$CACHE/node" --no-audit --no-fund zarrita@0.7.5 @zarrita/storage@0.2.0 >/dev/null ||
    echo "setup: warning: npm could not fetch zarrita; the Zarr v3 reference tests will be skipped" >&2
fi
echo "setup: ready (ONNX Runtime in $ORT_DIR)"
