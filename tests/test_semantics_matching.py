"""Whole-value matching of Sigma strings (semantics.string_matcher): the string-method shortcut for
values with `*` only at their ends answers exactly as the compiled whole-value pattern does."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.types import SigmaCasedString, SigmaString

from sigma_azure_aks import kql
from sigma_azure_aks.semantics import string_matcher, value_matches

# Letters that Unicode case folding relates to ASCII ones (Kelvin sign, long s, dotted and dotless
# i, sharp s), separators of operation names, and Sigma's wildcards and escapes.
_TOKENS = [*"aBkKsSiI/.- ", "\u212a", "\u017f", "\u0130", "\u0131", "\u00df"]
_SIGMA_TOKENS = [*_TOKENS, "*", "?", "\\*", "\\?", "\\\\"]


def _pattern(value: SigmaString) -> re.Pattern[str]:
    body = kql.glob_pattern(value.s, literal=re.escape)
    assert body is not None
    return re.compile(body, re.DOTALL | (0 if isinstance(value, SigmaCasedString) else re.IGNORECASE))


@st.composite
def _values(draw: st.DrawFn) -> SigmaString:
    text = "".join(draw(st.lists(st.sampled_from(_SIGMA_TOKENS), max_size=8)))
    return (SigmaCasedString if draw(st.booleans()) else SigmaString)(text)


# Characters that `re.IGNORECASE` matches with an ASCII letter although lower-casing does not
# make them equal (or makes them equal only through lower-casing both).
_FOLDS = {"k": "\u212a", "K": "\u212a", "s": "\u017f", "S": "\u017f", "i": "\u0130", "I": "\u0131"}


def _texts_for(value: SigmaString) -> st.SearchStrategy[str]:
    """Texts near the value: its text in any case, with folding relatives swapped in, between
    other tokens."""
    plain = "".join(part if isinstance(part, str) else "" for part in value.s)

    @st.composite
    def near(draw: st.DrawFn) -> str:
        chars = [
            _FOLDS.get(c, c) if draw(st.booleans()) else (c.swapcase() if draw(st.booleans()) else c)
            for c in plain
        ]
        return "".join(chars)

    pieces = st.one_of(st.sampled_from(_TOKENS), near())
    return st.lists(pieces, max_size=4).map("".join)


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_string_matcher_answers_as_the_whole_value_pattern(data: st.DataObject) -> None:
    value = data.draw(_values())
    text = data.draw(_texts_for(value))
    test = string_matcher(value)
    assert test is not None
    assert test(text) is (_pattern(value).fullmatch(text) is not None), (value.s, text)
    assert value_matches(value, text) is test(text)


def test_affix_shapes_ignore_case_like_the_pattern() -> None:
    cases = {
        ("microsoft.kubernetes/*", "MICROSOFT.KUBERNETES/X"): True,
        ("*/delete", "A/DELETE"): True,
        ("*/delete", "A/DELETED"): False,
        ("*secrets*", "X/SECRETS/Y"): True,
        ("k8s", "\u212a8s"): True,  # the Kelvin sign folds to k
        ("*s", "X\u017f"): True,  # so does the long s to s, which lower-casing does not show
        ("*", "anything\nat all"): True,
        ("", ""): True,
        ("", "x"): False,
    }
    for (sigma, text), expected in cases.items():
        test = string_matcher(SigmaString(sigma))
        assert test is not None
        assert test(text) is expected, (sigma, text)
    cased = string_matcher(SigmaCasedString("Abc*"))
    assert cased is not None and cased("Abcd") and not cased("abcd")
