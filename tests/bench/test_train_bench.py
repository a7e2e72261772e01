"""bench/train.py runs end to end on a small DCGAN: both loops timed in alternating rounds, the
figures printed and saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from bench import train


def test_train_bench_writes_figures(tmp_path: Path, capsys):
    args = ["--models", "dcgan", "--widths", "dcgan=0.0625", "--steps", "1", "--rounds", "2"]
    assert train.main([*args, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "train.json").read_text())
    dcgan = result["models"]["dcgan"]
    assert len(dcgan["studio"]["s_per_step_rounds"]) == len(dcgan["ratio_rounds"]) == 2
    assert dcgan["studio"]["images_per_s"] > 0 and dcgan["plain"]["images_per_s"] > 0
    assert dcgan["studio"]["batch"] == 128 and dcgan["studio"]["channels_last"]
    assert "dcgan" in capsys.readouterr().out
