"""docs/formats.md: its example blocks are what the code produces today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_page(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_page_{name}", DOCS / "pages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_formats_page_examples_match_the_code():
    page = load_page("formats")
    current = (DOCS / "formats.md").read_text(encoding="utf-8")
    assert page.render(current) == current, "run: python docs/generate.py"


def test_formats_page_has_every_example():
    page = load_page("formats")
    names = [m.group("name") for m in page.BLOCK.finditer((DOCS / "formats.md").read_text(encoding="utf-8"))]
    assert names == ["rule", "kql", "yaml", "arm", "json", "defender", "aksyaml"]
