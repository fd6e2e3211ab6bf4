"""Shared test helpers: where the external corpus lives, and one-rule conversion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# SigmaHQ's own test scripts, pinned in tests/sigmahq/, run from tests/test_sigmahq_checks.py on our
# rule folders only: pytest does not collect them itself (they walk the working directory's folders).
collect_ignore = ["sigmahq"]


def shared_dir() -> Path | None:
    """The shared corpus folder: $SIGMA_AZURE_AKS_SHARED, else ../shared beside the repo."""
    configured = os.environ.get("SIGMA_AZURE_AKS_SHARED")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


def shared_path(*parts: str) -> Path:
    """A file under the shared folder; skips the test cleanly when it is not there."""
    base = shared_dir()
    if base is None or not base.joinpath(*parts).exists():
        pytest.skip(f"shared test data not available: {'/'.join(parts)} (set SIGMA_AZURE_AKS_SHARED)")
    return base.joinpath(*parts)


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if path is None:
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    return path


@pytest.fixture(scope="session")
def kql():
    """Microsoft's KQL parser in the embedded engine (the [validate] extra, in [test]), one session for
    the whole test run, so the tests need neither node nor npm; skips, saying how to install it,
    when mini-racer is missing."""
    from sigma_azure_aks.kql_parser.checker import KqlChecker, KqlParserUnavailable

    checker = KqlChecker(engine="embedded")
    try:
        checker.start()
    except KqlParserUnavailable as error:
        pytest.skip(str(error))
    with checker:
        yield checker


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest):
    """Write a line to the terminal even when output is captured: counts that are part of a
    test's result (pairs compared, examples checked) belong in the CI log."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def write(line: str) -> None:
        if capture is not None and reporter is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line("\n" + line)
        else:
            print(line)

    return write
