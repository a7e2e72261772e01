"""What a new user gets: the shipped shows pass `stage check`, the shipped checkpoints load with
`weights_only=True` and generate, and the default show plays through its cue list — driven by
OSC from another process — into a recording whose scenes differ, whose dual scene shows two
different halves, and whose model switches keep the frame budget; and its opening is bright
and colourful."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bench.show import free_udp_port, play
from performer.cli import main as stage_main
from performer.engine.worker import open_model

ROOT = Path(__file__).resolve().parents[1]
SHOWS = [ROOT / "show.toml", *sorted((ROOT / "examples").glob("*.toml"))]
CHECKPOINTS = sorted(
    p for p in (ROOT / "models" / "checkpoints").glob("*.pt") if "seed-" not in p.name
)
SHIPPED = ("dual-equilibrium", "dcgan-photos", "vaegan-photos")


def test_the_three_checkpoints_are_shipped_with_their_records():
    for name in SHIPPED:
        ckpt = ROOT / "models" / "checkpoints" / f"{name}.pt"
        assert ckpt.is_file(), f"{ckpt} is not shipped"
        assert ckpt.stat().st_size < 25 * 2**20
        record = tomllib.loads(ckpt.with_suffix(".toml").read_text())
        assert record["steps"] > 0 and record["wall_s"] > 0
        assert record["commands"][0].startswith("stage train ")
        assert {"diversity"} <= set(record["figures"])
        assert ckpt.with_suffix(".png").is_file()  # its sample grid


@pytest.mark.parametrize("show", SHOWS, ids=lambda p: p.name)
def test_stage_check_passes_on_every_shipped_show(show: Path):
    assert stage_main(["check", str(show)]) == 0


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.name)
def test_every_shipped_checkpoint_loads_weights_only_and_generates(path: Path):
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["kind"] in ("dcgan", "vaegan", "dual")
    model = open_model(path)
    z = torch.randn(2, model.generator.z_dim)
    for name in [n for n in ("G", "G0", "G1") if n in model.parts]:
        with torch.no_grad():
            x = model.parts[name](z)
        assert x.shape[0] == 2 and x.shape[1] == 3 and torch.isfinite(x).all()
        assert float(x.std()) > 0.02  # an image, not a flat field
    if raw["kind"] == "vaegan":
        assert "E" in model.parts  # live video needs the encoder
    assert len(model.directions) >= 3  # named directions from `stage analyze`


HOLD = 4.0  # seconds a scene plays before the next cue (longer than its fade)
CUES = [
    (0.0, "/stage/tempo", 480.0),  # 8 beats = 1 s: the beat-timed fade fits a short test
    (HOLD, "/stage/cue/go", 1),  # face
    (HOLD, "/stage/cue/go", 2),  # mirror (live video)
    (HOLD, "/stage/cue/go", 3),  # equilibrium (dual)
    (HOLD, "/stage/cue/go", 4),  # shards (the dual pair bent, through a kaleidoscope)
    (HOLD, "/stage/cue/go", 0),  # back to the DCGAN: one more model switch
]


@pytest.fixture(scope="module")
def performance(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("default-show")
    video = out / "show.mp4"
    rows, log = play(ROOT / "show.toml", CUES, out, "640x360", record=video, tail_s=1.5)
    return {"video": video, "rows": rows, "log": log}


def read_frames(video: Path, indices: list[int]) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    got, i = {}, 0
    wanted = set(indices)
    while wanted - set(got):
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            got[i] = frame.astype(np.int16)
        i += 1
    cap.release()
    return got


def segments(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """Consecutive runs of frames by scene, in order."""
    out: list[tuple[str, list[dict]]] = []
    for r in rows:
        if not out or out[-1][0] != r["scene"]:
            out.append((r["scene"], []))
        out[-1][1].append(r)
    return out


def test_the_default_show_plays_its_cue_list_from_osc(performance: dict):
    log, rows = performance["log"], performance["rows"]
    if not Path("/dev/video0").exists():  # no webcam (CI): the face scenes see the test face
        assert "showing the moving test source" in log, log
    order = [name for name, _ in segments(rows)]
    assert order[:6] == ["drift", "face", "mirror", "equilibrium", "shards", "drift"], order
    # the last recorded frame of each scene (its fade is over by then)
    last = {name: int(seg[-1]["recorded"]) - 1 for name, seg in segments(rows)[:5]}
    images = read_frames(performance["video"], sorted(last.values()))
    names = list(last)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = np.abs(images[last[a]] - images[last[b]]).mean()
            assert diff > 6, f"scenes {a} and {b} look alike ({diff:.1f})"
    # the dual pair, side by side: two different pictures in the two halves
    dual = images[last["equilibrium"]]
    h, w = dual.shape[:2]
    box = np.argwhere(dual.max(axis=2) > 12)  # the letterboxed picture
    (y0, x0), (y1, x1) = box.min(0), box.max(0)
    mid = (x0 + x1) // 2
    left, right = dual[y0:y1, x0:mid], dual[y0:y1, mid : mid + (mid - x0)]
    assert x1 - x0 > 1.6 * (y1 - y0)  # twice as wide as tall: two square pictures
    assert np.abs(left - right).mean() > 6
    # the shards cue lands on a white flash, which falls back within its beat (the recording
    # reads frames back a frame or two late: look at the first few)
    shards = dict(segments(rows))["shards"]
    first = int(shards[0]["recorded"]) - 1
    near = read_frames(performance["video"], list(range(first, first + 8)))
    flash = max(frame[y0:y1, x0:x1].mean() for frame in near.values())
    assert flash > 200, [round(f[y0:y1, x0:x1].mean()) for f in near.values()]
    assert images[last["shards"]][y0:y1, x0:x1].mean() < flash - 40


def test_model_switches_crossfade_without_stopping_the_show(performance: dict):
    """Every model switch crossfades over frames that keep being presented. How long those
    frames take is a figure for bench/show.py, not a test: it depends on the machine's load."""
    rows = performance["rows"]
    switching = [r for r in rows if r["crossfade"] == "1"]
    assert len(switching) > 30, "no model switch was seen"
    models = [r["model"] for r in switching]
    assert {"photos", "vae", "equilibrium"} <= set(models)  # each switch's incoming model
    frames = [int(r["frame"]) for r in rows]
    assert frames == list(range(frames[0], frames[0] + len(frames)))  # no frame went missing


def test_frame_log_columns(performance: dict):
    row = performance["rows"][5]
    assert re.fullmatch(r"\d+\.\d{3}", row["work_ms"]) and row["model"] in (
        "photos",
        "vae",
        "equilibrium",
    )


def test_with_no_screen_the_default_show_renders_once_through():
    from performer.cli import render_seconds
    from performer.show import load_show

    show = load_show(ROOT / "show.toml")
    assert render_seconds(show) == show.follow * len(show.cues) == 60
    assert render_seconds(load_show(ROOT / "examples" / "minimal.toml")) == 10


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk's colourfulness of an RGB image (0…255): about 0 for greys,
    15 "slightly", 33 "moderately", 59 "quite", 82 "highly" colourful."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def test_the_default_show_opens_bright_and_colourful(tmp_path: Path):
    """The first 10 s of the default show, rendered offline (no screen, no camera, no OSC):
    not one frame is dark (mean < 35/255) or grey (colourfulness < 20), letterbox included."""
    video = tmp_path / "opening.mp4"
    cmd = [sys.executable, "-m", "performer.cli", "run", str(ROOT / "show.toml"), "--headless"]
    cmd += ["--offline", "--frames", "600", "--size", "320x180", "--record", str(video)]
    cmd += ["--osc-port", str(free_udp_port())]  # not the show's 9000: it may be taken
    done = subprocess.run(
        cmd,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cap = cv2.VideoCapture(str(video))
    means, colours = [], []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        means.append(float(rgb.mean()))
        colours.append(colourfulness(rgb))
    cap.release()
    assert len(means) >= 590, f"only {len(means)} frames recorded"
    dark = [(i, round(m, 1)) for i, m in enumerate(means) if m < 35]
    grey = [(i, round(c, 1)) for i, c in enumerate(colours) if c < 20]
    assert not dark, f"dark frames (index, mean/255): {dark[:10]}"
    assert not grey, f"grey frames (index, colourfulness): {grey[:10]}"
