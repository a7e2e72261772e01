"""bench/soak.py runs end to end for half a minute: the show played under valid and hostile OSC,
a vanishing camera clip and a filling disk, then SIGTERM; the figures are saved as JSON and no
valid cue is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_soak_bench_writes_figures(tmp_path: Path):
    cmd = [sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "0.5"]
    done = subprocess.run(
        [*cmd, "--out", str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "soak.json").read_text())
    for key in (
        "minutes",
        "rss_mb",
        "frames",
        "stalls",
        "restarts",
        "health",
        "recorder",
        "osc",
        "cues_sent",
        "cues_logged",
        "cues_lost",
        "cues_coalesced",
        "camera",
        "recording",
        "exit",
    ):
        assert key in result, key
    assert result["minutes"] == 0.5
    assert result["died_at_s"] is None
    assert result["cues_sent"] > 0 and result["cues_logged"] > 0
    assert result["cues_lost"] == 0, result["cue_detail"]
    assert result["cue_detail"]["unexpected_cues"] == 0
    assert result["frames"]["frames"] > 0
    assert {"start", "end"} <= result["rss_mb"].keys()
    assert result["exit"]["code"] == 0 and result["exit"]["summary_logged"]
    assert "cues sent / logged / lost" in done.stdout
