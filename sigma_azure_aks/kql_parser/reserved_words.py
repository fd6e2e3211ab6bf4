"""The word list of :mod:`sigma_azure_aks.kql_reserved`, derived from Microsoft's parser.

``python -m sigma_azure_aks.kql_parser.reserved_words`` prints the ``FIXED_TEXT_WORDS`` block as it
is written in ``kql_reserved.py``; paste it there when tests/test_kql_reserved.py reports that
Kusto.Language's keywords changed. It lives here, above the parser, so that ``kql_reserved`` (read
by :mod:`sigma_azure_aks.kql`, at the bottom of the package) imports nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from .checker import KqlChecker


def fixed_text_block(words: Iterable[str]) -> str:
    """The words sorted, as the indented lines between the quotes of ``FIXED_TEXT_WORDS``."""
    return textwrap.indent(textwrap.fill(" ".join(sorted(words)), 96), "    ")


def main() -> None:
    with KqlChecker() as checker:
        print(fixed_text_block(checker.fixed_text_words()))


if __name__ == "__main__":  # pragma: no cover
    main()
