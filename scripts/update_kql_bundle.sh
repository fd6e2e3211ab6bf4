#!/usr/bin/env bash
# Refresh the bundled copy of Microsoft's KQL parser (sigma_azure_aks/kql_parser/bundle) from the npm
# package that package.json and package-lock.json pin. To move to a new version: change the pin in
# package.json and PINNED_VERSION in sigma_azure_aks/kql_parser/checker.py, run `npm install`, then
# this script, then the tests (tests/test_kql_parser.py compares the bundle with node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
source=node_modules/@kusto/language-service-next
target=sigma_azure_aks/kql_parser/bundle
for name in bridge.min.js Kusto.Language.Bridge.min.js package.json; do
    cp "$source/$name" "$target/$name"
done
echo "bundled $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$target/package.json") into $target"
echo "check $target/LICENSE still matches the package's licence (package.json \"license\")"
