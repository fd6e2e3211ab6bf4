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
# Defender XDR custom detections first: a correlation has no custom-detection form (the format refuses
# it, naming why), so this export takes the single-event rules; it writes no manifest, the next one does.
.venv/bin/sigma-azure-aks export $(find rules -name '*.yml' ! -name 'correlation_*' | sort) --out out --format defender
.venv/bin/sigma-azure-aks export rules/ --out out --format kql,yaml,arm,json
echo "Converted rules are in out/ (one file per rule and format, ARM bundles in out/bundles/, Defender"
echo "custom detections of the single-event rules in out/defender/)."
