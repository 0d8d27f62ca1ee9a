"""The comparison report's leaderboard fits a 1280 px page: cells wrap at spaces instead of the
table overflowing behind a scrollbar, and no cell can be split inside a number or a name."""
import html as htmllib
import json
import re
import subprocess
import tempfile

import pytest

from tuneforge.report import write_comparison_report
from tuneforge.report.html import CSS

from report.conftest import CHROMIUM_FLAGS, chromium

from helpers.boards import synthetic_board as board

CONTENT_PX = 1100 - 2 * 24 - 2 * 20 - 2   # main max-width, its padding, a section's padding and border
CHAR_PX = 9.0                              # a generous average glyph width at the tables' 0.9em
CELL_PADDING_PX = 20


@pytest.fixture
def comparison(tmp_path):
    b = board()
    for row in b["rows"]:
        row["run_dir"] = str(tmp_path / "runs" / row["strategy"])
    b.update(seed=1, comparison_dir=str(tmp_path), baseline=None, baseline_majority=None, greater_is_better=True)
    (tmp_path / "leaderboard.json").write_text(json.dumps(b))
    return write_comparison_report(tmp_path)


def _cells_rule() -> str:
    return re.search(r"th,td\{([^}]*)\}", CSS).group(1)


def test_table_cells_wrap_only_at_spaces():
    rule = _cells_rule()
    assert "nowrap" not in rule and "white-space:normal" in rule
    assert "break-all" not in rule and "anywhere" not in rule


def test_leaderboard_narrowest_layout_fits_the_page(comparison):
    page = comparison.read_text()
    leaderboard = page.split("<h2>Leaderboard</h2>", 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr) for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", leaderboard)]
    assert len(rows) == 4 and len({len(r) for r in rows}) == 1
    words = [[max(len(w) for w in htmllib.unescape(re.sub("<[^>]+>", " ", c)).split()) for c in r] for r in rows]
    narrowest = sum(CHAR_PX * max(col) + CELL_PADDING_PX for col in zip(*words))
    assert narrowest < CONTENT_PX, f"{narrowest:.0f} px of unbreakable content for {CONTENT_PX} px"


def test_leaderboard_does_not_overflow_in_chromium(comparison):
    """Measured in a real browser at 1280 px (skipped where Chromium is not installed)."""
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed")
    probe = comparison.with_name("probe.html")
    probe.write_text(comparison.read_text().replace("</body>", (
        "<script>const s=document.querySelector('.scroll');"
        "document.body.setAttribute('data-overflow', String(s.scrollWidth - s.clientWidth));</script></body>")))
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, "--window-size=1280,900", f"--user-data-dir={profile}",
                               "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    overflow = int(re.search(r'data-overflow="(-?\d+)"', done.stdout).group(1))
    assert overflow <= 0
