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
    expected |= {"arithmetic.png", "directions.png", "responses-D.png", "responses-E.png"}
    expected |= {"directions.json", "sheet.png", "last.picks.toml"}
    assert expected == written
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
    analyze(args)  # an export has no critic/encoder figures, but gets the directions
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
    assert float((m @ m.T - torch.eye(3)).abs().max()) < 0.999  # distinct directions


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
