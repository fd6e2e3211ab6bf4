"""The generated docs match the code: one generator, every page."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT


def test_generated_pages_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "docs" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
