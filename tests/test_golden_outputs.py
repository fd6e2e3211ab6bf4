"""Every output for rules/ and the SigmaHQ corpora equals the golden files, byte for byte.

A change that alters outputs on purpose rewrites them with `python tests/golden_outputs.py --update`
(the diff of tests/golden/ then shows exactly which queries and documents changed).
"""

from __future__ import annotations

import json

import pytest
from conftest import shared_dir
from golden_outputs import dump, golden_path, golden_sets, outputs

SETS = list(golden_sets(shared_dir()))


@pytest.mark.parametrize("name, root, folder, runs", SETS, ids=[s[0] for s in SETS])
def test_outputs_equal_the_golden_files(name, root, folder, runs):
    if root is None:
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    expected = json.loads(golden_path(name).read_text(encoding="utf-8"))
    actual = outputs(root, folder, runs)
    changed = sorted(key for key in expected.keys() | actual.keys() if expected.get(key) != actual.get(key))
    assert not changed, (
        f"{len(changed)} outputs differ from tests/golden/{name}.json, e.g. {changed[:5]}; "
        "if the change is meant, run `python tests/golden_outputs.py --update` and review the diff"
    )
    assert dump(actual) == golden_path(name).read_text(encoding="utf-8")
