"""The whole stage, headless: generator → shader chain → read back, keys, recording, CLI."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from models.seed import calibrate
from performer.cli import main as stage_main
from performer.core.control import Cue
from performer.core.latent import seed_vector
from performer.render.display import KeyEvent
from performer.stage import RunOptions, Stage

TINY = DCGANConfig(z_dim=16, widths=(32, 16, 8))  # 32 px


def tiny_show(tmp_path: Path, chain: str = "[]", extra: str = "") -> Path:
    torch.manual_seed(0)
    G = calibrate(Generator(TINY))  # untrained, but with contrast
    save_checkpoint(tmp_path / "tiny.pt", "dcgan", TINY, {"G": G})
    show = tmp_path / "show.toml"
    show.write_text(f"""
[models.tiny]
checkpoint = "tiny.pt"
[output]
width = 96
height = 64
fps = 30
[shaders]
chain = {chain}
[osc]
enabled = false  # hermetic: no port 9000 in these tests
[[scenes]]
name = "wander"
seed = 1
drift = {{ speed = 0.5, amplitude = 1.5 }}
fade = 0.5
[[scenes]]
name = "rest"
seed = 2
fade = 1.0
{extra}
""")
    return show


def open_stage(show: Path, **kw) -> Stage:
    from performer.show import load_show

    return Stage(load_show(show), RunOptions(headless=True, offline=True, **kw))


def test_pixels_are_the_generator_output_and_drift(tmp_path):
    stage = open_stage(tiny_show(tmp_path))
    try:
        stage.run_frames = None
        stage.opts.frames = 1
        stage.run()
        first = stage.display.read_pixels()
        z = stage.controller.latent.z()
        expected = stage.engine.generate("tiny", z)
        assert first.shape == (64, 96, 3)
        content = first[:, 16:80]  # 64x64 content, pillarboxed in 96x64
        assert first[:, :14].max() < 8 and first[:, 82:].max() < 8  # black bars
        want = cv2.resize(expected, (64, 64), interpolation=cv2.INTER_CUBIC)
        err = np.abs(content.astype(float) - want.astype(float)).mean()
        assert err < 12, f"mean abs error {err:.1f} against the generator's own output"
        other = cv2.resize(stage.engine.generate("tiny", seed_vector(99, 16)), (64, 64))
        assert np.abs(content.astype(float) - other.astype(float)).mean() > 2 * err
        stage.opts.frames = 30
        stage.run()  # one more second of drift
        later = stage.display.read_pixels()
        assert np.abs(later.astype(float) - first.astype(float)).mean() > 1.0
    finally:
        stage.close()


def test_keys_change_scene_and_latent(tmp_path):
    stage = open_stage(tiny_show(tmp_path), rehearse=True)
    try:
        script = {
            1: [KeyEvent("right", frozenset(), "press")],  # next cue → "rest"
            3: [KeyEvent("q", frozenset(), "press")],  # hold: nudge + direction 1
            8: [KeyEvent("q", frozenset(), "release")],
            9: [KeyEvent("space", frozenset(), "press")],  # freeze drift
            10: [KeyEvent("1", frozenset(), "press")],  # scene 1
        }
        frame = {"n": 0}

        def poll():
            frame["n"] += 1
            return script.get(frame["n"], [])

        stage.display.poll = poll
        c = stage.controller
        stage.opts.frames = 2
        stage.run()
        assert c.scene.name == "rest" and c.cue_index == 1
        stage.opts.frames = 7
        stage.run()
        d0 = c.directions["tiny"][0]
        moved = float(np.dot(c.latent.offset, d0))
        # held through polls 3..7; a run()'s first frame has dt = 0: 4 frames of 1/30 s at 0.5/s
        assert moved == pytest.approx(0.5 * 4 / 30, rel=0.01)
        stage.opts.frames = 2
        stage.run()
        assert c.latent.frozen and c.scene.name == "wander"
    finally:
        stage.close()


def test_save_point_writes_presets_not_the_show(tmp_path):
    show = tiny_show(tmp_path)
    before = show.read_text()
    stage = open_stage(show)
    try:
        stage.display.poll = lambda: [KeyEvent("p", frozenset(), "press")]
        stage.opts.frames = 1
        stage.run()
    finally:
        stage.close()
    assert show.read_text() == before
    presets = (tmp_path / "show.presets.toml").read_text()
    assert 'name = "preset 1"' in presets and "z = [" in presets
    assert stage_main(["check", str(show)]) == 0  # the saved preset loads back


def test_headless_record_60_frames(tmp_path, capsys):
    show = tiny_show(tmp_path, chain='["grade", "trails"]')
    out = tmp_path / "x.mp4"
    assert stage_main(["run", str(show), "--headless", "--frames", "60", "--record", str(out)]) == 0
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    assert len(frames) == 60
    assert frames[0].shape == (64, 96, 3)
    assert max(np.abs(f.astype(int) - frames[0]).mean() for f in frames) > 1.0
    events = out.with_suffix(".events.jsonl")
    assert events.exists()


def test_interrupt_still_finalizes_the_recording(tmp_path):
    show = tiny_show(tmp_path)
    out = tmp_path / "cut.mp4"
    stage = open_stage(show, record=out)
    calls = {"n": 0}

    def poll():
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return []

    stage.display.poll = poll
    try:
        summary = stage.run()
    finally:
        stage.close()
    assert summary["recorded_frames"] == 11
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 11


def test_check_reports_every_problem(tmp_path, capsys):
    show = tiny_show(
        tmp_path,
        chain='["grade", "broken", "nothere"]',
        extra='bogus = 1\n[models.gone]\ncheckpoint = "gone.pt"\n',
    )
    shaders = tmp_path / "shaders"
    shaders.mkdir()
    real = Path(__file__).resolve().parents[2] / "shaders"
    for f in real.iterdir():
        (shaders / f.name).write_text(f.read_text())
    (shaders / "broken.glsl").write_text(
        "#version 330 core\nin vec2 v_uv;\nout vec4 f_color;\nvoid main() { f_color = vec3(1); }\n"
    )
    text = show.read_text().replace("[shaders]", '[shaders]\ndir = "shaders"')
    text = text.replace(
        "fade = 1.0", 'fade = 1.0\nparams = { "grade.saturation" = 9, "grade.nope" = 1 }'
    )
    show.write_text(text)
    assert stage_main(["check", str(show)]) == 1
    err = capsys.readouterr().err
    assert "scenes[1].bogus" in err and "unknown key" in err
    assert "models.gone.checkpoint" in err and "gone.pt: checkpoint file not found" in err
    assert "broken.glsl" in err
    assert "nothere" in err
    assert "grade.saturation: expected a value in [0, 3], got 9" in err
    assert "grade.nope: the shader declares no such parameter" in err


def test_check_default_show_passes():
    assert stage_main(["check"]) == 0


def test_run_refuses_a_broken_show_with_reasons(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[output]\nfps = 0\n")
    assert stage_main(["run", str(bad), "--headless", "--frames", "1"]) == 1
    err = capsys.readouterr().err
    assert "output.fps (line 2)" in err and "scenes" in err


def test_follow_moves_on_by_itself(tmp_path):
    show = tiny_show(tmp_path, extra="[cues]\nfollow = 0.5\n")
    stage = open_stage(show)
    try:
        stage.opts.frames = 20  # 0.67 s at 30 fps
        stage.run()
        assert stage.controller.scene.name == "rest"
    finally:
        stage.close()


def test_readme_key_map_matches_the_code():
    from performer.inputs.keyboard import KEY_HELP

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for line in KEY_HELP.splitlines()[1:]:
        assert line[2:] in readme


def test_one_bad_frame_does_not_end_the_show(tmp_path, caplog):
    stage = open_stage(tiny_show(tmp_path), frames=30)
    calls = {"n": 0}
    draw = stage.display.draw

    def glitchy_draw(*args, **kw):
        calls["n"] += 1
        if calls["n"] in (6, 7):
            raise RuntimeError("a glitch in the GL driver")
        return draw(*args, **kw)

    stage.display.draw = glitchy_draw
    try:
        summary = stage.run()
    finally:
        stage.close()
    assert summary["frame_errors"] == 2 and summary["frames"] == 28  # two frames spent
    failures = [r for r in caplog.records if "a frame failed" in r.getMessage()]
    assert len(failures) == 1 and "test_stage.py" in failures[0].getMessage()  # once, where


def test_an_input_that_raises_is_skipped_then_closed(tmp_path, caplog):
    from performer.inputs import FAIL_FRAMES

    stage = open_stage(tiny_show(tmp_path), frames=FAIL_FRAMES + 20)
    calls = {"n": 0}

    def poll():
        calls["n"] += 1
        if calls["n"] in (3, 4) or calls["n"] > 10:
            raise RuntimeError("a glitch in the window system")
        return []

    stage.display.poll = poll
    try:
        summary = stage.run()
    finally:
        stage.close()
    assert summary["frames"] == FAIL_FRAMES + 20 and summary["frame_errors"] == 0  # played on
    said = [r.getMessage() for r in caplog.records if r.name == "stage.inputs"]
    assert said[0].startswith("input keyboard raised RuntimeError") and len(said) == 2
    assert "failed" in said[1] and f"{FAIL_FRAMES} times in a row" in said[1]
    assert summary["health"]["keyboard"]["state"] == "failed"


def test_an_error_every_frame_ends_the_show_and_finalizes_the_recording(tmp_path):
    from performer.show import load_show
    from performer.stage import run_show

    out = tmp_path / "err.mp4"
    calls = {"n": 0}
    original = Stage.run

    def failing_run(self):
        draw = self.display.draw

        def failing_draw(*args, **kw):
            calls["n"] += 1
            if calls["n"] >= 6:
                raise RuntimeError("the projector caught fire")
            return draw(*args, **kw)

        self.display.draw = failing_draw
        return original(self)

    Stage.run = failing_run
    try:
        with pytest.raises(RuntimeError, match="caught fire"):
            opts = RunOptions(headless=True, offline=True, record=out)
            run_show(load_show(tiny_show(tmp_path)), opts)
    finally:
        Stage.run = original
    assert calls["n"] == 5 + 150  # 5 s of frames at 30 fps failed first
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    assert not list(tmp_path.glob(".*partial*"))


def test_windowed_run_under_xvfb_records(tmp_path, xvfb):
    import subprocess
    import sys

    show = tiny_show(tmp_path, chain='["grade"]')
    out = tmp_path / "window.mp4"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "performer.cli",
            "run",
            str(show),
            "--frames",
            "20",
            "--record",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no screen" not in proc.stderr  # it opened a window on the virtual screen
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20


def test_switching_models_crossfades_images_and_dual_plays_side_by_side(tmp_path):
    from models.dual import DualConfig, StyleGenerator

    tiny_show(tmp_path)  # writes tiny.pt (32 px, z 16)
    torch.manual_seed(1)
    cfg = DualConfig(z_dim=8, w_dim=8, mapping_layers=1, image_size=16, ch=4, max_ch=8)
    g0, g1 = StyleGenerator(cfg), StyleGenerator(cfg)
    save_checkpoint(tmp_path / "pair.pt", "dual", cfg, {"G0": g0, "G1": g1, "G": g0})
    show = tmp_path / "two.toml"
    show.write_text("""
[models.tiny]
checkpoint = "tiny.pt"
[models.pair]
checkpoint = "pair.pt"
layout = "side_by_side"
[output]
width = 128
height = 64
fps = 30
[shaders]
chain = []
[osc]
enabled = false
[[scenes]]
name = "one"
model = "tiny"
seed = 1
[[scenes]]
name = "two"
model = "pair"
seed = 2
fade = 1.0
""")
    stage = open_stage(show)
    try:
        size = stage.engine.generate("pair", np.zeros(cfg.z_dim, np.float32)).shape
        assert size[1] == 2 * size[0]  # two generators, side by side
        stage.opts.frames = 2
        stage.run()
        before = stage.display.read_pixels().astype(float)
        stage.controller.apply(Cue("scene", ("two",)))
        stage.opts.frames = 15  # half of the 1 s fade
        stage.run()
        mid = stage.display.read_pixels().astype(float)
        stage.opts.frames = 30
        stage.run()
        after = stage.display.read_pixels().astype(float)
        d_mid_before, d_mid_after = np.abs(mid - before).mean(), np.abs(mid - after).mean()
        assert d_mid_before > 1 and d_mid_after > 1  # mid-fade is neither picture
        assert np.abs(after - before).mean() > max(d_mid_before, d_mid_after) * 0.9
        z = stage.controller.latent.z()
        half = size[1] // 2
        pair = stage.engine.generate("pair", z)
        assert np.abs(pair[:, :half].astype(float) - pair[:, half:]).mean() > 1  # two images
    finally:
        stage.close()


def test_rehearsal_stays_where_you_put_it(tmp_path):
    """In rehearsal `follow` is paused until `o`; the HUD counts down while it runs; a number
    key with no scene does nothing and says so; freeze says freeze / unfreeze."""
    show = tiny_show(tmp_path, extra="[cues]\nfollow = 0.5\n")
    stage = open_stage(show, rehearse=True)
    keys: list[list[KeyEvent]] = []
    stage.display.poll = lambda: keys.pop(0) if keys else []
    press = lambda k: [KeyEvent(k, frozenset(), "press")]  # noqa: E731
    try:
        stage.opts.frames = 30  # a second: twice the follow time
        stage.run()
        assert stage.controller.scene.name == "wander"  # paused: still where it was
        assert "auto-advance paused (o)" in " ".join(stage.hud(10.0))
        keys[:] = [press("7")]
        stage.opts.frames = 2
        stage.run()
        assert (
            stage.controller.scene.name == "wander"
            and stage.message == "no scene 7: the show has 2"
        )
        keys[:] = [press("space")]
        stage.run()
        assert stage.message == "freeze"
        keys[:] = [press("space")]
        stage.run()
        assert stage.message == "unfreeze"
        keys[:] = [press("o")]
        stage.opts.frames = 3
        stage.run()
        assert stage.follow_on and "auto-advance on" in stage.message
        stage._hud_at = -1.0
        assert "next cue in" in " ".join(stage.hud(stage._run_state.t))
        stage.opts.frames = 30
        stage.run()
        assert stage.controller.scene.name == "rest"  # it runs again
    finally:
        stage.close()


def test_scenes_with_their_own_chains_dissolve(tmp_path):
    """Scene "rest" plays through posterize alone: after its fade the picture is posterized
    (few levels); halfway through, both chains are drawn and blended."""
    show = tiny_show(
        tmp_path,
        chain='["grade"]',
        extra='chain = ["posterize"]\nparams = { "posterize.levels" = 2.0 }\n',
    )
    stage = open_stage(show)
    try:
        stage.opts.frames = 2
        stage.run()
        assert stage.display._chains.keys() == {("grade",)}
        stage.controller.apply(Cue("scene", ("rest",)))
        stage.opts.frames = 15  # half of the 1 s fade
        stage.run()
        assert set(stage.display._chains) == {("grade",), ("posterize",)}
        assert stage._run_state.chain_from == ("grade",)
        stage.opts.frames = 30
        stage.run()
        assert stage._run_state.chain_from is None
        after = stage.display.read_pixels()
        assert len(np.unique(after.reshape(-1, 3) // 8, axis=0)) <= 9  # 2 levels a channel
    finally:
        stage.close()
