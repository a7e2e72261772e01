"""`stage train`: the trainer's options pass through unchanged, a capture folder trains on its
faces, and the trained model comes back as a show that passes `stage check` — beside the
user's show, which stays byte-identical. The slow test goes the whole way: capture a clip →
train a tiny VAE-GAN → the mirror scene plays the camera through it, headless."""

import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch

from models.checkpoint import save_checkpoint
from models.vaegan import Decoder, Encoder, VAEGANConfig
from performer.cli import main
from performer.train_command import check_written, plan, train
from performer.train_show import add_model
from tests.performer.inputs.face.face_frames import blank, pose, write_clip

ROOT = Path(__file__).resolve().parents[2]

USER_SHOW = f"""# my show: comments, odd spacing   and all
[models.photos]
checkpoint = "{ROOT / "models/checkpoints/dcgan-photos.pt"}"

[[scenes]]
name = "mirror"      # names the new scenes must not take
seed = 7
[[scenes]]
name = "face"
seed = 8
face = "look"

[rehearsal]
presets = "mine.presets.toml"

[face]
camera = 0
mapping = "look"
[[face.mappings.look]]
feature = "yaw"
direction = 1
"""


def capture_folder(root: Path, faces: bool = True) -> Path:
    """What `stage capture --faces` leaves: capture.json, frames/TAKE, faces/TAKE."""
    take = "take-20260101-120000"
    for sub in ("frames", *(("faces",) if faces else ())):
        (root / sub / take).mkdir(parents=True)
        (root / sub / take / "000000.000.png").write_bytes(b"")
    record = {
        "format": 1,
        "takes": [
            {
                "take": take,
                "faces_dir": f"faces/{take}" if faces else None,
                "settings": {"camera": {"width": 320, "height": 240, "mirror": True}},
            }
        ],
    }
    (root / "capture.json").write_text(json.dumps(record))
    return root


def test_options_pass_through_and_a_capture_folder_trains_on_its_faces(tmp_path):
    data = capture_folder(tmp_path / "performers")
    show = tmp_path / "my.toml"
    show.write_text(USER_SHOW)
    argv = ["vaegan", "--data", str(data), "--minutes", "30", "--show", str(show)]
    p = plan([*argv, "--steps=2", "--future-flag", "--weights", "kl=0.1"], tmp_path / "runs")
    assert p.model == "vaegan" and p.show == show and p.name == "performers-vaegan"
    assert p.args == [
        "vaegan",
        "--data",
        str(data / "faces"),
        "--minutes",
        "30",
        "--steps=2",
        "--future-flag",
        "--weights",
        "kl=0.1",
        "--out",
        str(tmp_path / "runs" / "performers-vaegan"),
    ]
    (tmp_path / "runs" / "performers-vaegan").mkdir(parents=True)
    (tmp_path / "runs" / "performers-vaegan" / "last.pt").write_bytes(b"")
    p = plan([*argv, "--name", "Ensemble 1"], tmp_path / "runs")  # a run there: the next name
    assert p.out == tmp_path / "runs" / "performers-vaegan-2" and p.name == "ensemble-1"
    frames = capture_folder(tmp_path / "frames-only", faces=False)
    p = plan(["dcgan", "--data", str(frames), "--out", str(tmp_path / "r")], tmp_path / "runs")
    assert p.args == ["dcgan", "--data", str(frames / "frames"), "--out", str(tmp_path / "r")]
    assert main(["train", "vaegan", "--data", str(data), "--show", str(tmp_path / "no.toml")]) == 2


def tiny_vaegan(path: Path) -> Path:
    cfg = VAEGANConfig(z_dim=16, image_size=32, ch=8, max_ch=16)
    torch.manual_seed(0)
    save_checkpoint(path, "vaegan", cfg, {"G": Decoder(cfg).eval(), "E": Encoder(cfg).eval()})
    return path


class FakeStudio:
    """`python -m training ...` stood in for: train leaves last.pt, export a tiny VAE-GAN,
    the analysis fails (the show must still check)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        if argv[0] == "train":
            out = Path(argv[argv.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "last.pt").write_bytes(b"")
            return 0
        if argv[0] == "export":
            tiny_vaegan(Path(argv[argv.index("--out") + 1]))
            return 0
        return 1  # analyze


def test_the_model_comes_back_as_a_show_beside_the_untouched_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = capture_folder(tmp_path / "performers")
    show = tmp_path / "my.toml"
    show.write_text(USER_SHOW)
    (tmp_path / "mine.presets.toml").write_text('[[scenes]]\nname = "saved"\nseed = 3\n')
    before = show.read_bytes()
    studio = FakeStudio()
    rc = train(["vaegan", "--data", str(data), "--show", str(show), "--minutes", "1"], studio)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert show.read_bytes() == before  # the user's show: byte-identical
    run = Path("runs/performers-vaegan")
    assert [c[0] for c in studio.calls] == ["train", "export", "analyze"]
    assert studio.calls[0][-4:] == ["--minutes", "1", "--out", str(run)]
    assert studio.calls[1] == ["export", str(run), "--out", str(run / "performers-vaegan.pt")]
    made = tmp_path / "my.performers-vaegan.toml"
    assert f"stage rehearse {made.name}" in out
    data_ = tomllib.loads(made.read_text())
    names = [s["name"] for s in data_["scenes"]]
    assert names == ["mirror", "face", "performers-vaegan-mirror", "performers-vaegan-face"]
    assert data_["cues"]["order"][:2] == names[2:]
    assert data_["scenes"][2]["params"] == {"video.mix": 1.0}
    assert data_["scenes"][3]["face"] == "performers-vaegan"
    assert data_["models"]["performers-vaegan"]["checkpoint"] == f"{run}/performers-vaegan.pt"
    assert data_["rehearsal"]["presets"] == "my.performers-vaegan.presets.toml"
    assert "saved" in (tmp_path / "my.performers-vaegan.presets.toml").read_text()
    assert check_written(made) == []  # stage check: ok

    # no --show: a show of its own in the run folder, its camera as captured
    studio = FakeStudio()
    assert train(["vaegan", "--data", str(data), "--name", "solo"], studio) == 0
    solo = Path("runs/performers-vaegan-2/show.toml")
    assert check_written(solo) == []
    face = tomllib.loads(solo.read_text())["face"]
    assert face["width"] == 320 and face["mirror"] is True and face["video_crop"] == "face"


def test_show_data_round_trips_and_unsteered_scenes_stay_unsteered():
    data = tomllib.loads((ROOT / "show.toml").read_text())
    assert tomllib.loads(tomli_w.dumps(data)) == data
    plain = {"models": {"a": {"checkpoint": "a.pt"}}, "scenes": [{"name": "one"}]}
    model, new = add_model(plain, "a", "b.pt", video=False)
    assert model == "a-2" and new == ["face"]  # a DCGAN: no mirror (no encoder)
    assert plain["scenes"][0]["face"] is False  # (it had no face steering before)
    assert plain["cues"]["order"] == ["face", 0]
    assert tomllib.loads(tomli_w.dumps(plain)) == plain


@pytest.mark.slow
def test_capture_train_and_the_mirror_plays_the_camera_through_the_model(tmp_path, monkeypatch):
    from performer.engine import encoder_mix
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    monkeypatch.chdir(tmp_path)
    frames = [pose(dx=4 * i, angle=2 * i) for i in range(16)] + [blank()] * 4
    clip = write_clip(tmp_path / "rehearsal.avi", frames, 10)
    assert main(["capture", "performers", "--camera", str(clip), "--faces", "--size", "32"]) == 0
    show = tmp_path / "my.toml"
    show.write_text(USER_SHOW)
    before = show.read_bytes()
    t0 = time.perf_counter()
    argv = ["train", "vaegan", "--data", "performers", "--show", str(show), "--steps", "2"]
    argv += ["--size", "32", "--width", "0.125", "--batch", "4", "--sample-every", "1000"]
    assert main(argv) == 0
    print(f"capture → train → export → analyze → show: {time.perf_counter() - t0:.1f} s")
    assert show.read_bytes() == before
    made = tmp_path / "my.performers-vaegan.toml"
    assert check_written(made) == []
    loaded = load_show(made)
    mirror = loaded.scene_index("performers-vaegan-mirror")
    stage = Stage(loaded, RunOptions(headless=True, offline=True, camera=str(clip)))
    try:
        assert stage.controller.scene is loaded.scenes[mirror]  # the first cue
        wait = time.monotonic() + 20
        while (s := stage.face.tracker.latest()) is None or s.landmarks is None:
            assert time.monotonic() < wait, "no face in the clip"
            time.sleep(0.02)
        stage.opts.frames = 3
        stage.run()
        encoder = stage.engine.encoders["performers-vaegan"]
        seen = encoder_mix._last.get(encoder)
        assert seen is not None  # the camera's face went through the model's encoder
        assert seen[0].shape[0] == seen[0].shape[1] and seen[0].shape[0] < 480  # a face square
        assert np.isfinite(stage.display.read_pixels()).all()
    finally:
        stage.close()
