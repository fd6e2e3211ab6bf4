#!/usr/bin/env bash
# Quick start, main job: install into .venv and convert rules/ into every output format under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet . "sigma-cli==3.1.*"
rm -rf out
.venv/bin/sigma-azure-aks export rules/ --out out --format kql,yaml,arm,json
echo "Converted rules are in out/ (one file per rule and format, ARM bundles in out/bundles/)."
