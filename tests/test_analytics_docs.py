"""docs/formats.md: its example blocks are what the code produces today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_formats", DOCS / "generate_formats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_formats_page_examples_match_the_code():
    generator = load_generator()
    current = (DOCS / "formats.md").read_text(encoding="utf-8")
    assert generator.render(current) == current, "run: python docs/generate_formats.py"


def test_formats_page_has_every_example():
    generator = load_generator()
    names = [
        m.group("name") for m in generator.BLOCK.finditer((DOCS / "formats.md").read_text(encoding="utf-8"))
    ]
    assert names == ["rule", "kql", "yaml", "arm", "json", "aksyaml"]
