"""Progress lines: drawn in place on a terminal only, ended by a newline once drawn."""

from __future__ import annotations

import io

from sigma_azure_aks.commands.common import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_line_and_ends_it() -> None:
    out = _Terminal()
    progress = Progress(2, "events files", out)
    progress.note("a.csv")
    progress.advance()
    progress.note("b.csv")
    progress.advance()
    progress.close()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 4 and text.endswith("2/2\n")
    assert "events files 0/2: a.csv" in text and "events files 1/2: b.csv" in text


def test_one_file_on_a_terminal_shows_what_is_read() -> None:
    out = _Terminal()
    progress = Progress(1, "events files", out)
    progress.note("big.csv")
    progress.advance()
    progress.close()
    assert out.getvalue() == "\r\x1b[Kevents files 0/1: big.csv\n"


def test_nothing_is_drawn_off_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(3, "events files", out)
    progress.note("a.csv")
    progress.advance(3)
    progress.close()
    assert out.getvalue() == ""
