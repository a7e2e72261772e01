"""Export a run for the stage and play a frame through performer's engine; latent analysis
writes its figures and saves named directions the stage picks up."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import read_checkpoint
from performer.engine.worker import Engine, open_model
from training.analysis import (
    analyze,
    direction_latents,
    image_stats,
    interpolate,
    pick_score,
    principal_directions,
    rank_directions,
    slerp,
)
from training.export import export
from training.loop import Trainer, TrainOptions

QUIET = {"sample_every": 10**6, "eval_every": 3, "ckpt_every": 10**6, "metrics_images": 8}


@pytest.fixture(scope="module")
def run(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "v"
    opts = TrainOptions(
        model="vaegan",
        out=str(out),
        data=str(photos),
        size=16,
        steps=4,
        batch=4,
        width=0.125,
        workers=0,
        **QUIET,
    )
    Trainer(opts).run()
    return out


def test_run_folder_has_the_artist_files(run: Path):
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000004.png"]
    assert (run / "losses.png").is_file()
    from training.events import read_scalars

    (events,) = (run / "events").iterdir()
    scalars = read_scalars(events)
    assert {"loss/rec", "loss/kl", "images_per_s", "metrics/swd", "metrics/diversity"} <= set(
        scalars
    )


def test_export_plays_on_the_stage(run: Path, tmp_path: Path):
    out = export(run, tmp_path / "v.pt")
    data = read_checkpoint(out)
    assert set(data["state"]) == {"G", "E"}  # EMA decoder + encoder; no critic, no optimizers
    assert "optim" not in data and data["train"]["ema"] is True
    assert "stage train vaegan" in data["train"]["command"]
    train = read_checkpoint(run / "last.pt")
    for k, v in train["state"]["G_ema"].items():
        assert torch.equal(v, data["state"]["G"][k])
    loaded = open_model(out)
    assert set(loaded.parts) == {"G", "E"} and not loaded.generator.training
    engine = Engine({"v": loaded}, device="cpu", threads=1)
    frame = engine.generate("v", np.random.default_rng(0).standard_normal(128).astype(np.float32))
    assert frame.shape == (16, 16, 3) and frame.dtype == np.uint8 and frame.std() > 0
    mu, logvar = loaded.parts["E"](torch.zeros(1, 3, 16, 16))
    assert mu.shape == logvar.shape == (1, 128)


def test_analyze_writes_figures_and_directions(run: Path, tmp_path: Path):
    exported = export(run, tmp_path / "v.pt")
    args = argparse.Namespace(
        checkpoint=run,
        out=tmp_path / "a",
        seeds="0,1,2",
        steps=4,
        directions=4,
        samples=64,
        image=None,
        save=True,
        sheet=6,
        pick=2,
    )
    written = {p.name for p in analyze(args)}
    expected = {"interpolation-slerp.png", "interpolation-lerp.png", "interpolation.mp4"}
    expected |= {"comparison.png", "directions.png", "deconvnet-D.png", "deconvnet-E.png"}
    expected |= {"deconvnet-D.json", "deconvnet-E.json"}
    expected |= {"directions.json", "sheet.png", "last.picks.toml"}
    assert expected == written  # no arithmetic without a chosen with/without
    assert (tmp_path / "a" / "interpolation.mp4").stat().st_size > 1000
    effects = json.loads((tmp_path / "a" / "directions.json").read_text())
    names = [e["name"] for e in effects["directions"]]
    assert [e["effect"] for e in effects["directions"]] == sorted(
        (e["effect"] for e in effects["directions"]), reverse=True
    )  # ranked by measured effect
    assert names == [
        f"{'weak-' if e['vs_random'] < 1 else ''}pc{i + 1}"
        for i, e in enumerate(effects["directions"])
    ]
    dirs = read_checkpoint(run / "last.pt")["directions"]
    assert list(dirs) == names
    picks = tomllib.loads((run / "last.picks.toml").read_text())
    assert len(picks["scenes"]) == 2
    assert all(0 <= s["seed"] < 6 and s["name"] == f"seed-{s['seed']}" for s in picks["scenes"])
    args.checkpoint, args.out, args.sheet, args.pick = exported, tmp_path / "b", 0, 0
    written = {p.name for p in analyze(args)}  # the export keeps the encoder; the critic comes
    assert {"comparison.png", "deconvnet-E.png", "deconvnet-D.png"} <= written  # from its run
    loaded = open_model(exported)
    assert sorted(loaded.directions) == sorted(
        e["name"]
        for e in json.loads((tmp_path / "b" / "directions.json").read_text())["directions"]
    )
    assert not (tmp_path / "v.picks.toml").exists()
    assert all(abs(float(d.norm()) - 1) < 1e-5 for d in loaded.directions.values())


def test_interpolation_and_principal_directions():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    assert float(slerp(a, b, 0.5).norm()) == pytest.approx(1.5)
    assert interpolate([a, b], 4).shape == (8, 2)  # a→b and b→a, 4 steps each
    from models.dcgan import DCGANConfig, Generator

    torch.manual_seed(0)
    G = Generator(DCGANConfig(z_dim=8, widths=(16, 8))).eval()
    dirs = principal_directions(G, "dcgan", count=3, samples=128)
    m = torch.stack(list(dirs.values()))
    assert m.shape == (3, 8) and torch.allclose(m.norm(dim=1), torch.ones(3))


def test_principal_directions_find_the_known_axes():
    """A layer that stretches two (rotated) z axes 10x and 3x and squashes the rest: pc1 and pc2
    are those axes, in that order, and at right angles."""

    q = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(3)))[0]

    class Known(torch.nn.Module):
        z_dim = 6

        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(6, 6, bias=False))
            scale = torch.tensor([10.0, 3.0, 0.1, 0.1, 0.1, 0.1])
            with torch.no_grad():
                self.body[0].weight.copy_(torch.diag(scale) @ q.T)  # z·q[:, k] → unit k

        def forward(self, z):
            return self.body(z)[:, :3, None, None].expand(-1, 3, 4, 4)

    dirs = principal_directions(Known(), "dcgan", count=2, samples=512)
    pc1, pc2 = dirs["pc1"], dirs["pc2"]
    assert abs(float(pc1 @ q[:, 0])) > 0.98  # the 10x axis
    assert abs(float(pc2 @ q[:, 1])) > 0.95  # the 3x axis
    assert abs(float(pc1 @ pc2)) < 0.1


def test_analysis_seeds_are_the_stages_seeds(run: Path, tmp_path: Path, monkeypatch):
    """ "seed 3" in an analysis grid is the z a show's `seed = 3` decodes (one convention)."""
    import training.analysis as analysis
    from models.seeds import seed_vector
    from performer.core.latent import seed_vector as stage_seed_vector

    assert stage_seed_vector is seed_vector  # the stage draws its seeds from the same place
    z = analysis.seed_z(3, 128)
    assert z.dtype == torch.float32 and np.array_equal(z.numpy(), seed_vector(3, 128))

    class Seen(Exception):
        pass

    def seen(zs, *a, **k):  # the z's analyze interpolates between, in the order of --seeds
        raise Seen([z.clone() for z in zs])

    monkeypatch.setattr(analysis, "interpolate", seen)
    args = argparse.Namespace(
        checkpoint=run,
        out=tmp_path / "a",
        seeds="3,0",
        steps=2,
        directions=2,
        samples=16,
        image=None,
        save=False,
    )
    with pytest.raises(Seen) as caught:
        analyze(args)
    z3, z0 = caught.value.args[0]
    dim = z3.shape[0]
    assert np.array_equal(z3.numpy(), seed_vector(3, dim))
    assert np.array_equal(z0.numpy(), seed_vector(0, dim))


def test_directions_ranked_by_measured_effect():
    """A direction the generator ignores ranks below a random one and is named weak-."""

    class Lin(torch.nn.Module):
        z_dim = 4

        def forward(self, z):  # only z[0] (strongly) and z[1] (weakly) reach the picture
            v = 0.5 * z[:, :1] + 0.05 * z[:, 1:2]
            return torch.tanh(v)[:, :, None, None].expand(-1, 3, 4, 4)

    e = torch.eye(4)
    ranked, table, baseline = rank_directions(Lin(), {"pc1": e[3], "pc2": e[1], "pc3": e[0]})
    assert [t.component for t in table] == ["pc3", "pc2", "pc1"]
    assert [t.name for t in table] == ["pc1", "weak-pc2", "weak-pc3"]
    assert list(ranked) == ["pc1", "weak-pc2", "weak-pc3"] and torch.equal(ranked["pc1"], e[0])
    assert table[0].vs_random > 1 > table[1].vs_random and table[2].effect == 0.0
    assert baseline > 0


def test_vaegan_directions_are_found_at_the_encoders_codes():
    """A VAE-GAN's directions come from (and are ranked at) the encoder's codes of its decoder's
    samples, where its pictures' codes lie; a GAN's from random z."""
    from models.vaegan import Decoder, Encoder, VAEGANConfig

    c = VAEGANConfig(z_dim=8, image_size=16, ch=4, max_ch=8)
    torch.manual_seed(0)
    E, G = Encoder(c).eval(), Decoder(c).eval()
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        codes = E(G(z))[0]
    assert torch.allclose(direction_latents(G, E, 16, seed=3), codes, atol=1e-6)
    assert torch.equal(direction_latents(G, None, 16, seed=3), z)
    a = principal_directions(G, "vaegan", 3, z=codes)
    b = principal_directions(G, "vaegan", 3, samples=16, seed=3)  # from random z: others
    assert all(abs(float(a[k] @ b[k])) < 0.999 for k in a)
    ranked, table, _ = rank_directions(G, a, at=codes[:4])
    assert len(table) == 3 and all(t.effect > 0 for t in table)


def test_image_stats_and_pick_score():
    grey = np.full((8, 8, 3), 128, np.uint8)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    black = np.zeros((8, 8, 3), np.uint8)
    stats = image_stats(np.stack([grey, red, black, grey]))
    assert stats[0]["brightness"] == pytest.approx(128) and stats[0]["colourfulness"] == 0
    # Hasler–Süsstrunk of flat red: 0.3·sqrt(255² + 127.5²)
    assert stats[1]["colourfulness"] == pytest.approx(0.3 * (255**2 + 127.5**2) ** 0.5)
    assert stats[0]["nearest"] == 0.0  # the two greys are copies
    assert stats[2]["nearest"] == pytest.approx(128 / 255 / 1.0, abs=0.2)
    score = pick_score(stats)
    assert max(range(4), key=score.__getitem__) == 1  # the colourful, distinct one


# -- seed 000's comparison, seed 004's vector arithmetic and deconvnet


class _Colour(torch.nn.Module):
    """A toy encoder/decoder pair whose code is an image's mean colour: E(x) = (mean RGB, 0),
    G(z) = a flat image of colour z[:3]."""

    z_dim = 3

    def __init__(self, encoder: bool) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        if self.encoder:
            mu = x.mean((2, 3))
            return mu, torch.zeros_like(mu)
        return x[:, :3, None, None].expand(-1, 3, 8, 8).clamp(-1, 1)


def test_vector_arithmetic_moves_towards_the_with_set():
    from training.analysis import encode, vector_arithmetic

    torch.manual_seed(0)
    E, G = _Colour(True), _Colour(False)
    reddish = torch.tensor([0.3, -0.1, -0.15])[None, :, None, None].expand(5, 3, 8, 8).clone()
    bluish = torch.tensor([-0.15, -0.1, 0.25])[None, :, None, None].expand(4, 3, 8, 8).clone()
    reddish += 0.05 * torch.randn_like(reddish)
    targets = torch.zeros(3, 3, 8, 8) + 0.1 * torch.randn(3, 3, 1, 1)
    imgs, d = vector_arithmetic(G, encode(E, reddish), encode(E, bluish), encode(E, targets))
    assert imgs.shape == (3 * 4, 3, 8, 8)
    rows = imgs.view(3, 4, 3, 8, 8)
    assert torch.allclose(rows[:, 0], targets.mean((2, 3), keepdim=True).expand(-1, 3, 8, 8))
    want = reddish.mean((0, 2, 3)) - bluish.mean((0, 2, 3))  # the property in pixels
    for s in (1, 2, 3):  # more red, less blue, in proportion to the scale
        moved = (rows[:, s] - rows[:, 0]).mean((0, 2, 3))
        assert torch.nn.functional.cosine_similarity(moved, want, dim=0) > 0.99
        assert torch.allclose(moved, want * (0.5 * s), atol=1e-5)
    assert torch.allclose(d, want, atol=1e-5)


def test_comparison_grid_has_a_row_per_model():
    from models.vaegan import Decoder, Encoder, VAEGANConfig
    from training import artifacts
    from training.analysis import comparison

    c = VAEGANConfig(z_dim=8, image_size=16, ch=4, max_ch=8)
    E, G = Encoder(c).eval(), Decoder(c).eval()
    real = torch.rand(5, 3, 16, 16) * 2 - 1
    z = torch.randn(5, 8)
    imgs, names = comparison(real, E, G, z)
    assert names == ["real", "reconstruction", "samples"] and imgs.shape == (15, 3, 16, 16)
    assert torch.equal(imgs[:5], real)
    v = VAEGANConfig(z_dim=4, image_size=8, ch=4, max_ch=8)  # a VAE at another size
    imgs, names = comparison(real, E, G, z, vae=(Encoder(v).eval(), Decoder(v).eval()))
    assert names == ["real", "VAE", "VAE-GAN", "samples"] and imgs.shape == (20, 3, 16, 16)
    grid = artifacts.grid(imgs, 5)
    assert grid.shape == (4 * 18 + 2, 5 * 18 + 2, 3)  # 4 rows x 5 columns of 16 px, 2 px apart


def _receptive(y: int, layers: int) -> tuple[int, int]:
    """Input rows seen by unit `y` after `layers` 4x4 stride-2 padding-1 convolutions."""
    lo, hi = y, y
    for _ in range(layers):
        lo, hi = 2 * lo - 1, 2 * hi + 2
    return max(lo, 0), hi


def test_deconvnet_projection_lies_where_the_top_activation_is():
    from models.vaegan import Critic, VAEGANConfig
    from training.analysis import deconvnet

    torch.manual_seed(0)
    D = Critic(VAEGANConfig(image_size=32, ch=4, max_ch=8)).eval()
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    for layer in (0, 1, 2):
        (p,) = deconvnet(D, images, layer, channel=1)
        assert p.pixels.shape == (3, 32, 32) and p.value > 0
        y0, y1 = _receptive(p.y, layer + 1)
        x0, x1 = _receptive(p.x, layer + 1)
        energy = p.pixels.abs().sum(0)
        inside = energy[y0 : y1 + 1, x0 : x1 + 1]
        assert float(inside.sum()) > 0  # it lights its own receptive field ...
        outside = energy.clone()
        outside[y0 : y1 + 1, x0 : x1 + 1] = 0
        assert float(outside.max()) == 0.0  # ... and nothing else
    top = deconvnet(D, images, 1, channel=2, top=3)
    assert len(top) == 3 and top[0].value >= top[1].value >= top[2].value


def test_deconvnet_lights_the_pixels_that_drive_it():
    """A first-layer channel made to detect red: over a batch of grey images with one red patch
    somewhere, its top activation is at the patch, and so is the projection's peak."""
    from models.vaegan import Critic, VAEGANConfig
    from training.analysis import deconvnet, deconvnet_figure

    torch.manual_seed(0)
    D = Critic(VAEGANConfig(image_size=32, ch=4, max_ch=8)).eval()
    conv = D.blocks[0][0]
    with torch.no_grad():
        conv.weight[0] = 0
        conv.weight[0, 0] = 1.0  # red
        conv.weight[0, 1:] = -0.5  # not green or blue
        if conv.bias is not None:
            conv.bias[0] = 0
    images = torch.zeros(4, 3, 32, 32)
    images[2, 0, 20:24, 8:12] = 1.0  # image 2: a red patch at rows 20-23, columns 8-11
    for layer in (0, 1):
        if layer == 1:  # a second-layer channel that reads channel 0 of the first
            c2 = D.blocks[1][0]
            with torch.no_grad():
                c2.weight[3] = 0
                c2.weight[3, 0] = 1.0
        (p,) = deconvnet(D, images, layer, channel=0 if layer == 0 else 3)
        assert p.image == 2
        energy = p.pixels.abs().sum(0)
        y, x = divmod(int(energy.argmax()), 32)
        assert 18 <= y <= 25 and 6 <= x <= 13, (layer, y, x)
        assert float(p.pixels[0].sum()) > 0  # projected back as red
    fig, table = deconvnet_figure(D, images, channels=4)
    assert fig.shape == (2 * 3 * 34 + 2, 4 * 34 + 2, 3)  # 3 layers x (projections, patches)
    assert len(table) == 3 * 4


def test_analyze_arithmetic_from_folders(run: Path, photos: Path, tmp_path: Path):
    import shutil

    with_dir, without_dir = tmp_path / "with", tmp_path / "without"
    for folder, files in ((with_dir, sorted(photos.glob("*.*"))), (without_dir, [])):
        folder.mkdir()
        for f in files:
            shutil.copy(f, folder / f.name)
    for f in sorted((photos / "more").glob("*.*")):
        shutil.copy(f, without_dir / f.name)
    args = argparse.Namespace(
        checkpoint=run,
        out=tmp_path / "a",
        seeds="0,1",
        steps=2,
        directions=2,
        samples=16,
        image=None,
        save=False,
        with_dir=with_dir,
        without_dir=without_dir,
        save_as="bright",
    )
    written = {p.name for p in analyze(args)}
    assert {"arithmetic.png", "arithmetic.json"} <= written
    info = json.loads((tmp_path / "a" / "arithmetic.json").read_text())
    assert info["mode"] == "images" and info["with"] == 3 and info["without"] == 3
    import cv2

    fig = cv2.imread(str(tmp_path / "a" / "arithmetic.png"))
    # 5 columns (the image, then scales 0, ½, 1, 1½) of 16 px tiles, 2 px apart, by 4 rows (the
    # means, then the 3 'without' images), upscaled by a whole factor
    k = fig.shape[1] // (5 * 18 + 2)
    assert fig.shape[:2] == (k * (4 * 18 + 2), k * (5 * 18 + 2))
    assert "bright" in read_checkpoint(run / "last.pt")["directions"]
    args.with_dir = args.without_dir = None
    args.with_seeds, args.without_seeds, args.save_as = "1,5", "2", None
    args.out = tmp_path / "b"
    analyze(args)
    assert json.loads((tmp_path / "b" / "arithmetic.json").read_text())["mode"] == "seeds"
    args.with_seeds = None
    with pytest.raises(ValueError, match="both"):
        analyze(args)
