#!/usr/bin/env bash
# Sets up everything latent-stage needs on a fresh Debian/Ubuntu machine (or any machine with
# Python ≥ 3.11): system GL/EGL libraries and Xvfb, a virtualenv in .venv, the project and its
# pinned dependencies. Safe to run again; `make` runs it only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri  # OpenGL/EGL; Mesa's llvmpipe renders with no GPU
  libglib2.0-0                                 # OpenCV and MediaPipe's wheels link against it
  xvfb xauth                                   # a virtual screen for the windowed tests
)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: no apt-get here; make sure OpenGL/EGL libraries are installed" >&2
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt pins torch to the CPU build (an unpinned torch pulls GBs of CUDA packages).
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
# The optional outputs (NDI, virtual camera): their wheels are not built for every platform, so
# each goes in its own call that warns and carries on; the show runs without them.
for extra in ndi virtualcam audio midi; do
  if ! .venv/bin/python -m pip install -q -c constraints.txt -e ".[$extra]"; then
    echo "setup: warning: the '$extra' extra did not install here; the show runs without it" >&2
  fi
done
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
