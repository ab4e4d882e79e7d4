#!/usr/bin/env bash
# Sets up .venv with everything the app needs (add --dev for the test tools and the browser).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# Fashion-MNIST: on Debian/Ubuntu machines without internet the data comes from Debian's package;
# elsewhere torchvision downloads it into ./data on first use.
if command -v apt-get >/dev/null 2>&1; then
  pkgs=()
  [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || pkgs+=(dataset-fashion-mnist)
  [ "$dev" = 1 ] && [ ! -x /usr/bin/chromium ] && pkgs+=(chromium)
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "bootstrap: apt-get install ${pkgs[*]}"
    (as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null) \
      || echo "bootstrap: could not apt-get install ${pkgs[*]} (continuing; see README 'Data')"
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  # A matched pair: a CPU-only torch from another source does not work with the registry's torchvision.
  .venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1 \
    || .venv/bin/python -m pip install -q torch torchvision
fi
.venv/bin/python -m pip install -q -r requirements.txt
[ "$dev" = 1 ] && .venv/bin/python -m pip install -q -r requirements-dev.txt
echo "bootstrap: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
