"""A user's own scorer, whose output differs from the demo's (other columns, other types), end to
end on the real local target: submit, the first rows headless, --results --header, and the
wizard's results screen (table headers and the histogram of a column of the user's choice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Select

from engine import jobs
from engine.profile import load
from tests.tui.conftest import make_profile, started, wait_for
from tui.app import AmlBatchApp
from tui.cli import main

COLUMNS = ["word", "letters", "kind"]
SCORER = '''
import csv


def init():
    pass


def run(mini_batch):
    out = []
    for path in mini_batch:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                word = row["word"]
                kind = "vowel" if word[0] in "aeiou" else "consonant"
                out.append(f"{word},{len(word)},{kind}")
    return out
'''
WORDS = ["apple", "banana", "cherry", "egg", "fig", "grape", "ice", "kiwi"]


@pytest.fixture
def words_profile(amlbatch_home: Path):
    profile = make_profile(amlbatch_home, "words", scorer={"columns": COLUMNS})
    (Path(profile.scorer.folder) / "score.py").write_text(SCORER)
    data = Path(profile.data.files[0]).parent
    for old in data.glob("*.csv"):
        old.unlink()
    (data / "words.csv").write_text("word\n" + "\n".join(WORDS) + "\n")
    return load("words")


def test_headless_shows_the_declared_columns_and_writes_them_as_the_header(
        words_profile, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--profile", "words", "--yes", "--submit"]) == 0
    out = capsys.readouterr().out
    assert "8 rows scored, 0 failed files" in out
    assert "first rows (word, letters, kind):\n    apple,5,vowel\n    banana,6,consonant" in out

    [job] = jobs.list_jobs(words_profile)
    assert main(["--profile", "words", "--results", job.job_id, "--header", "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert lines[0] == "word,letters,kind" and lines[1] == "apple,5,vowel" and len(lines) == 9


async def test_results_screen_labels_and_plots_the_scorers_own_columns(words_profile) -> None:
    from tui.screens.jobs import JobScreen

    assert main(["--profile", "words", "--yes"]) == 0
    app = AmlBatchApp(remember_theme=False, start_dir=Path.cwd())
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot)
        await app.push_screen(JobScreen(words_profile))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.state in ("done", "error"), timeout=60)
        assert app.screen.job.status == "Completed", app.screen.query_one("#problem").render()
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ResultsScreen")
        table = app.screen.query_one("#res-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 8)
        assert [str(c.label) for c in table.columns.values()] == COLUMNS
        assert table.get_row_at(0) == ["apple", "5", "vowel"]

        # the first numeric column is plotted by default: word lengths 3..6 in bins
        hist = app.screen.query_one("#res-hist")
        assert hist.title == "letters" and hist.total == 8
        assert sum(count for _, count in hist.rows) == 8 and hist.rows[0][0].startswith("3")

        # a text column: counts per value
        app.screen.query_one("#res-column", Select).value = 2
        await pilot.pause()
        assert hist.title == "kind" and dict(hist.rows) == {"consonant": 5, "vowel": 3}
