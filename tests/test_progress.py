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


def test_progress_inside_one_file_on_a_terminal(tmp_path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 2_000_000)
    out = _Terminal()
    progress = Progress(1, "events files", out)
    progress.within(str(path), 0.0)
    progress.within(str(path), 1.0)
    progress.close()
    last = out.getvalue().split("\r\x1b[K")[-1]
    assert last.startswith(f"events files 0/1: {path} 100%, 2.0 MB of 2.0 MB, ")
    assert "B/s, " in last and last.rstrip().endswith(" left")


def test_progress_inside_one_file_is_quiet_off_a_terminal(tmp_path) -> None:
    out = io.StringIO()
    progress = Progress(1, "events files", out)
    progress.within(str(tmp_path / "big.csv"), 0.5)
    progress.close()
    assert out.getvalue() == ""
