"""StyleGAN networks on the stage: `stage import`, a hostile pickle refused, a show that names a
.pkl plays headless with ψ ramping over a fade, style mixing, and a face mapping on a GANSpace
direction (pc1) saved into the imported checkpoint."""

import dataclasses
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint
from models.stylegan.stylegan2 import mix
from performer.cli import main as stage_main
from performer.core.control import Cue
from performer.core.latent import seed_vector
from performer.engine.worker import imported_checkpoint
from performer.inputs.face.mapping import FaceControl
from performer.inputs.face.rig import make_resolver
from performer.show import load_show
from performer.stage import RunOptions, Stage

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "stylegan"
TINY = FIXTURES / "sg2-tiny-32.pkl"
needs_fixtures = pytest.mark.skipif(not TINY.is_file(), reason="no /work/shared StyleGAN fixtures")

SHOW = """
[models.m]
checkpoint = "net.pkl"
[output]
width = 64
height = 64
fps = 30
[shaders]
chain = []
[osc]
enabled = false
[[scenes]]
name = "open"
seed = 1
fade = 0.3
params = { "truncation.psi" = 1.0 }
[[scenes]]
name = "tight"
seed = 1
fade = 0.3
params = { "truncation.psi" = 0.2 }
[[scenes]]
name = "mixed"
seed = 1
mix = "other"
fade = 0
[[scenes]]
name = "other"
seed = 7
[face]
camera = 0
mapping = "pcs"
ease_in = 0.1
[[face.mappings.pcs]]
feature = "roll"
direction = "pc1"
gain = 2.0
"""


class Hostile:
    """Pickles as a call to os.system: a loader that runs it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_hostile_pickle_is_refused_with_one_line(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": Hostile(marker)}))
    assert stage_main(["import", str(evil), str(tmp_path / "out.pt")]) == 1
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "evil.pkl" in err
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


@needs_fixtures
def test_import_writes_a_checkpoint_that_loads(tmp_path, capsys):
    out = tmp_path / "tiny.pt"
    assert stage_main(["import", str(TINY), str(out), "--truncation", "0.7"]) == 0
    said = capsys.readouterr().out
    assert str(out) in said and "stylegan2" in said and "32x32" in said
    loaded = load_checkpoint(out, parts=("G",))
    with torch.no_grad():
        img = loaded.generator(torch.randn(2, loaded.generator.z_dim))
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()


@needs_fixtures
def test_a_show_plays_the_pickle_with_psi_mixing_and_a_pc1_face(tmp_path, caplog):
    from training.analysis import principal_directions, save_directions

    shutil.copy(TINY, tmp_path / "net.pkl")  # the import is cached beside it: not in shared/
    (tmp_path / "show.toml").write_text(SHOW)
    caplog.set_level("INFO", logger="stage.engine")
    ckpt = imported_checkpoint(tmp_path / "net.pkl")
    assert ckpt == tmp_path / "net.stage.pt" and "importing net.pkl (once)" in caplog.text
    G = load_checkpoint(ckpt, parts=("G",)).generator
    save_directions(ckpt, principal_directions(G, "stylegan2", count=3, samples=64))
    show = load_show(tmp_path / "show.toml")
    assert show.scenes[2].mix == "other"
    stage = Stage(dataclasses.replace(show, face=None), RunOptions(headless=True, offline=True))
    try:
        engine, c = stage.engine, stage.controller
        assert c.direction_names["m"][:3] == ["pc1", "pc2", "pc3"]  # the cached import, reused
        seen = []
        decode = engine.decode

        def traced(model, z, video=None, style=None):
            image = decode(model, z, video, style=style)
            seen.append((style["psi"], image))
            return image

        engine.decode = traced
        stage.opts.frames = 2
        stage.run()
        c.apply(Cue("scene", ("tight",)))
        stage.opts.frames = 12  # past the 0.3 s fade
        summary = stage.run()
        assert summary["frame_errors"] == 0
        psis = [p for p, _ in seen]
        assert psis[0] == 1.0 and psis[-1] == pytest.approx(0.2)
        assert any(0.2 < p < 1.0 for p in psis)  # ramping over the fade
        assert all(a >= b for a, b in zip(psis, psis[1:], strict=False))
        ramp = [img for p, img in seen if 0.2 < p < 1.0]
        assert np.abs(ramp[0].astype(int) - ramp[-1].astype(int)).mean() > 0.5

        # ψ = 0: every z is w_avg, so one picture
        z1, z2 = seed_vector(3, 32), seed_vector(4, 32)
        at0 = [engine.generate("m", z, style={"psi": 0.0}) for z in (z1, z2)]
        assert np.array_equal(at0[0], at0[1])
        at1 = [engine.generate("m", z, style={"psi": 1.0}) for z in (z1, z2)]
        assert not np.array_equal(at1[0], at1[1])

        # style mixing: the fine layers from scene "other"'s latent
        c.apply(Cue("scene", ("mixed",)))
        style = c.style()
        other = seed_vector(7, 32)
        assert np.allclose(style["mix_z"], other) and style["mix"] == 1.0
        z = c.latent.z()
        mixed = engine.generate("m", z, style=style)
        assert not np.array_equal(mixed, engine.generate("m", z))
        g = engine.generators["m"]
        with torch.no_grad():
            ws = mix(g.mapping(torch.tensor(z)[None]), g.mapping(torch.tensor(other)[None]), 4)
            want = ((g.synthesis(ws)[0] + 1) * 127.5).clamp(0, 255).permute(1, 2, 0).numpy()
        assert g.num_ws // 2 == 4 and np.abs(mixed.astype(float) - want).max() <= 1.0
        stage.opts.frames = 3
        assert stage.run()["frame_errors"] == 0

        # the face on pc1: tilting the head moves the latent along the checkpoint's pc1
        dirs = load_checkpoint(ckpt, parts=("G",)).directions
        named = {"m": {k: v.numpy() for k, v in dirs.items()}}
        c.face = FaceControl(show.face.mappings, show.face.mapping, make_resolver(c, named))
        c.read("face", {"roll": 0.5})
        before = c.latent.z()
        stage.opts.frames = 10
        assert stage.run()["frame_errors"] == 0
        pc1 = named["m"]["pc1"] / np.linalg.norm(named["m"]["pc1"])
        moved = c.face.offset("m", 32)
        along = float(np.dot(moved, pc1))
        assert along > 0 and along == pytest.approx(float(np.linalg.norm(moved)), rel=1e-3)
        steered = engine.generate("m", before + moved * (2.0 / along))
        assert not np.array_equal(steered, engine.generate("m", before))
    finally:
        stage.close()
