"""The face in the running show (headless): a recorded performance steers the latent, the face
lost eases the contribution out and back in, a clip that ends never stops the loop, and a
camera frame goes through a VAE-GAN's encoder and decoder onto the display."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from models.seed import calibrate
from performer.render.display import KeyEvent
from performer.show import load_show
from performer.stage import RunOptions, Stage
from tests.performer.inputs.face.face_frames import base, blank, pose, write_clip

FPS = 30
FACE = """
[face]
camera = 0
mapping = "tilt"
ease_in = 0.3
ease_out = 0.6
lost_after = 0.15
loop = false

[[face.mappings.tilt]]
feature = "roll"
direction = 1
gain = 2.0

[[face.mappings.tilt]]
feature = "mouth_open"
param = "grade.saturation"
gain = 1.0
"""


def show_file(tmp_path: Path, checkpoint: str, face: str = FACE, scene: str = "") -> Path:
    path = tmp_path / "show.toml"
    path.write_text(f"""
[models.m]
checkpoint = "{checkpoint}"
[output]
width = 96
height = 64
fps = {FPS}
[shaders]
chain = ["grade"]
[[scenes]]
name = "one"
seed = 1
{scene}
[[scenes]]
name = "two"
seed = 2
{scene}
{face}
""")
    return path


def tiny_dcgan(tmp_path: Path) -> str:
    cfg = DCGANConfig(z_dim=16, widths=(32, 16, 8))
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", "dcgan", cfg, {"G": calibrate(Generator(cfg))})
    return "tiny.pt"


def performance(tmp_path: Path) -> Path:
    """1.5 s still, a 0.5 s tilt to 25° held 1 s, the face gone 1.2 s, back 1.3 s, then the
    clip ends."""
    frames = [pose()] * 45
    frames += [pose(angle=25 * i / 15) for i in range(1, 16)] + [pose(angle=25)] * 30
    frames += [blank()] * 36 + [pose()] * 39
    return write_clip(tmp_path / "performance.avi", frames, FPS)


def test_a_performance_steers_eases_out_when_lost_and_survives_the_clip_ending(tmp_path):
    clip = performance(tmp_path)
    show = load_show(show_file(tmp_path, tiny_dcgan(tmp_path)))
    stage = Stage(
        show, RunOptions(headless=True, rehearse=True, camera=str(clip), record=tmp_path / "o.mp4")
    )
    c, rig = stage.controller, stage.face
    d1 = c.directions["m"][0]
    trace = []
    step = c.step

    def traced(dt):
        z = step(dt)
        f = rig.features
        trace.append((dt, c.face.level, float(np.dot(c.face.offset("m", 16), d1)), f))
        return z

    c.step = traced
    polls = {"n": 0}

    def poll():  # rehearsal key c: calibrate on the performer's neutral face, once it is seen
        polls["n"] += 1
        return [KeyEvent("c", frozenset(), "press")] if polls["n"] == 3 else []

    stage.display.poll = poll
    try:
        wait = time.monotonic() + 10
        while time.monotonic() < wait and not (rig.tracker.latest() and rig.tracker.latest().raw):
            time.sleep(0.01)
        stage.opts.frames = round(6.5 * FPS)  # the rest of the clip's 5.5 s, and past its end
        summary = stage.run()
        assert summary["frames"] == stage.opts.frames  # the loop never stopped
        assert rig.camera.state == "lost"  # the clip ended (no loop): the show went on
        assert "calibrated" in rig.message or "calibrated" in stage.message
        assert rig.preview().shape == (168, 224, 3)  # the camera preview of the HUD
        sources = rig.health_sources()  # what the Stage polls
        assert set(sources) == {"camera", "face"}
        camera = sources["camera"]()
        assert camera.state == "degraded" and "ended" in camera.detail  # as asked: loop = false
        assert camera.figures["frames"] == 165 and sources["face"]().state != "failed"
        assert summary["health"]["camera"]["state"] == "degraded"
    finally:
        stage.close()
        stage.close()

    dts = np.array([dt for dt, _, _, _ in trace])  # each frame's time step, as the loop took it
    levels = np.array([lv for _, lv, _, _ in trace])
    assert rig.health_sources()["face"]().state == "off"  # closed
    along = np.array([a for _, _, a, _ in trace])
    rolls = [(i, f["roll"]) for i, (_, _, _, f) in enumerate(trace) if f is not None]
    tilted = [r for _, r in rolls if r > 15]
    assert tilted and abs(np.median(tilted) - 25) < 4  # calibrated roll follows the head
    peak = int(np.argmax(along))
    assert along[peak] == pytest.approx(2.0 * 25 / 90 * levels[peak], abs=0.12)
    # the blank: eased out to nothing with no jump, then eased back in when she returns
    gone = int(np.argmax((levels == 0) & (np.arange(len(levels)) > peak)))
    assert gone > peak and levels[gone] == 0
    back = int(np.argmax((levels > 0.99) & (np.arange(len(levels)) > gone)))
    assert back > gone
    # No jump: the level moves at most as fast as the ease allows over each frame's own time
    # step (smoothstep's steepest slope is 1.5; ease_in 0.3 s is the faster of the two): at
    # 30 fps that is 0.17 a frame, and a frame the loaded machine made late may move further.
    ease = 1.5 / 0.3
    assert (np.abs(np.diff(levels)) <= ease * dts[1:] + 1e-6).all()
    nominal = np.maximum(dts[1:] * FPS, 1.0)  # frames' worth of show time in each step
    assert (np.abs(np.diff(along)) < 0.25 * nominal).all()
    assert levels[-1] == 0.0  # after the clip ended: the face counts as lost
    events = (tmp_path / "o.events.jsonl").read_text()
    assert '"kind": "face"' in events and '"lost": true' in events


def test_video_goes_through_the_encoder_and_decoder(tmp_path):
    from models.vaegan import Decoder, Encoder, VAEGANConfig
    from performer.engine.encoder_mix import to_input

    cfg = VAEGANConfig(z_dim=16, image_size=32, ch=8, max_ch=16)
    torch.manual_seed(0)
    E, G = Encoder(cfg), Decoder(cfg)
    for net in (E, G):  # untrained, but with contrast: each picture decodes to its own image
        for layer in net.modules():
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(layer.weight, a=0.2)
    E, G = E.eval(), G.eval()
    save_checkpoint(tmp_path / "vae.pt", "vaegan", cfg, {"G": G, "E": E})
    still = tmp_path / "face.png"
    cv2.imwrite(str(still), cv2.cvtColor(base(), cv2.COLOR_RGB2BGR))
    face = FACE.replace("camera = 0", 'camera = "face.png"\nvideo_crop = "frame"')
    path = show_file(tmp_path, "vae.pt", face, scene='params = { "video.mix" = 1.0 }')
    stage = Stage(load_show(path), RunOptions(headless=True, offline=True))
    try:
        wait = time.monotonic() + 10
        while stage.face.camera.latest() is None and time.monotonic() < wait:
            time.sleep(0.01)
        stage.opts.frames = 2
        stage.run()
        shown = stage.display.read_pixels()[:, 16:80]  # 64x64 content in 96x64
        with torch.inference_mode():
            x = to_input(base()[:, 80:560], 32, torch.device("cpu"), torch.float32)
            want = ((G(E(x)[0])[0] + 1) * 127.5).clamp(0, 255).byte().permute(1, 2, 0).numpy()
        want = cv2.resize(want, (64, 64), interpolation=cv2.INTER_CUBIC)
        plain = stage.engine.generate("m", stage.controller.latent.z())  # the latent alone
        plain = cv2.resize(plain, (64, 64), interpolation=cv2.INTER_CUBIC)
        err = np.abs(shown.astype(float) - want.astype(float)).mean()
        assert err < 12, err  # the camera's picture, encoded and decoded, is on the display
        assert np.abs(shown.astype(float) - plain.astype(float)).mean() > 2 * err
    finally:
        stage.close()


def test_display_overlay_is_on_screen_not_in_the_output():
    from performer.render.display import Display
    from performer.show import DEFAULT_SHADER_DIR

    with Display(width=96, height=64, chain=[], shader_dir=DEFAULT_SHADER_DIR, headless=True) as d:
        frame = np.full((32, 32, 3), 40, np.uint8)
        red = np.zeros((12, 20, 3), np.uint8)
        red[..., 0] = 255
        d.set_overlay(red)
        d.draw(frame, {}, 0.0)
        screen, output = d.read_screen(), d.read_pixels()
        assert screen[-19:-9, -27:-9, 0].min() > 240 and screen[-19:-9, -27:-9, 1].max() < 10
        assert output[..., 0].max() < 60  # never in the show output (recordings)
        d.set_overlay(None)
        d.draw(frame, {}, 0.0)
        assert d.read_screen()[-19:-9, -27:-9, 0].max() < 60


def test_a_replay_is_one_input_of_cues_and_face_readings(tmp_path):
    from performer.inputs.replay import Performance, ReplayInput

    log = tmp_path / "take.events.jsonl"
    log.write_text(
        '{"t": 0.0, "kind": "face", "yaw": 1.0}\n'
        '{"t": 0.5, "kind": "cue", "action": "next", "args": [], "source": "osc"}\n'
        '{"t": 0.8, "kind": "face", "lost": true}\n{"t": 1.0, "kind": "end"}\n'
    )
    replay = ReplayInput(Performance(log))
    cues, readings = replay.poll(0.0, 0.0)
    assert cues == [] and [(r.kind, r.value) for r in readings] == [("face", {"yaw": 1.0})]
    assert replay.poll(0.1, 0.1) == ([], [])  # nothing new: no reading
    cues, readings = replay.poll(0.9, 0.8)
    assert [c.action for c in cues] == ["next"] and readings[0].value is None  # lost
    report = replay.health_sources()["replay"]()
    assert report.state == "ok" and "take.events.jsonl" in report.detail
