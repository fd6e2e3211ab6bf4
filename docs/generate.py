"""Writes the generated parts of docs/ from the code (or, with --check, verifies them).

    python docs/generate.py          # rewrite every generated page and block
    python docs/generate.py --check  # exit 1 when a page and the code disagree (run by the tests)

Each module of docs/pages/ renders one page: `PAGE` names it, `render(current_text)` returns the
page as the code says it should be (whole pages ignore the current text; others replace marked
blocks in it).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))

from pages import (  # noqa: E402
    aks,
    aws,
    commands,
    entra,
    formats,
    gcp,
    gcp_workspace,
    lifecycle,
    mapping,
    saas,
    sources,
)

PAGES = (mapping, formats, aks, commands, sources, entra, lifecycle, aws, saas, gcp, gcp_workspace)


def stale_pages() -> list[tuple[Path, str]]:
    """(page, expected text) for every page whose text differs from what the code renders."""
    stale = []
    for page in PAGES:
        path = DOCS / page.PAGE
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        expected = page.render(current)
        if expected != current:
            stale.append((path, expected))
    return stale


def main(argv: list[str]) -> int:
    stale = stale_pages()
    if "--check" in argv:
        for path, _ in stale:
            sys.stderr.write(f"{path.name} is out of date: run python docs/generate.py\n")
        return 1 if stale else 0
    for path, expected in stale:
        path.write_text(expected, encoding="utf-8")
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
