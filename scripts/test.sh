#!/usr/bin/env bash
# Quick start, whole test suite: on pySigma 1.5.x (what sigma-cli 3.1 installs) and on pySigma 2.0.x.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
pip_quiet() { "$1"/bin/python -m pip install --quiet --disable-pip-version-check "${@:2}"; }

# Microsoft's KQL parser ships inside the package (sigma_azure_aks/kql_parser/bundle) and runs in the
# embedded engine (mini-racer, the [validate] extra): no node or npm step.

# pySigma 1.5.x line: a normal install, with sigma-cli.
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_quiet .venv -e ".[test]" "sigma-cli==3.1.*" --config-settings editable_mode=compat
# pySigma 2.0.x line: pySigma 2.0.1 forced in, the kusto backend without its dependency pin,
# and the independent Sigma evaluator (pySigma-backend-sqlite) for the differential tests.
[ -x .venv-pysigma2/bin/python ] || "$PYTHON" -m venv .venv-pysigma2
pip_quiet .venv-pysigma2 "pySigma==2.0.1" "pySigma-backend-sqlite==2.1.1" "PyYAML>=6" \
    "pytest>=8" "hypothesis>=6" "jsonschema>=4" "duckdb-kql[duckdb]==1.1.2" "certifi" "mini-racer>=0.14.1,<0.15"
pip_quiet .venv-pysigma2 --no-deps "pySigma-backend-kusto==1.0.1"
pip_quiet .venv-pysigma2 --no-deps -e . --config-settings editable_mode=compat
# SigmaHQ's rule checks (tests/test_sigmahq_checks.py) in an environment of their own, as SigmaHQ's CI
# installs them: its validators fetch reference data when imported, which no other sigma-cli run
# should do, so they are not in the two environments above.
[ -x .venv-sigmahq/bin/python ] || "$PYTHON" -m venv .venv-sigmahq
pip_quiet .venv-sigmahq "sigma-cli==3.1.*" "pySigma-validators-sigmahq==0.20.*" "PyYAML>=6" "colorama>=0.4" "yamllint>=1.35"

.venv/bin/ruff check sigma_azure_aks sigma tests benchmarks
status=0
echo "== pySigma $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("pySigma"))')"
.venv/bin/python -m pytest "$@" || status=$?
echo "== pySigma $(.venv-pysigma2/bin/python -c 'import importlib.metadata as m; print(m.version("pySigma"))')"
.venv-pysigma2/bin/python -m pytest "$@" || status=$?
exit $status
