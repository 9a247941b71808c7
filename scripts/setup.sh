#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv.
# Re-installs only when .venv is missing or pyproject.toml / scripts/constraints.txt changed since
# the last install. Installs the dev extra (tests, faiss-cpu, the caption scorers) with torch and
# torchvision pinned to the tested versions (scripts/constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
stamp=.venv/.videobert-installed
want=$(cat pyproject.toml scripts/constraints.txt | sha256sum | cut -d' ' -f1)
java_note() {
  command -v java >/dev/null 2>&1 || echo "setup: no 'java' on PATH: captioning will leave METEOR out and use" \
    "the Python PTB tokenizer (saying so in its report); 'apt-get install default-jre-headless' adds them" >&2
}
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  java_note
  exit 0
fi
echo "setup: creating .venv (torch 2.14.1 from this disk, the rest from PyPI) ..." >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -m pip install -q -c scripts/constraints.txt -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import videobert, torch, av, faiss, pycocoevalcap, transformers' 
echo "$want" > "$stamp"
echo "setup: .venv ready" >&2
java_note
