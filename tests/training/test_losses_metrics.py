"""Loss terms, training figures and event files, checked against values known by hand (event
files read back by TensorBoard's own reader)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training import losses as L
from training.events import open_writer, read_scalars
from training.metrics import (
    batch_diversity,
    cluster_warning,
    collapse_warning,
    copies_radius,
    copies_warning,
    dominant_cluster,
    near_copies,
    sliced_wasserstein_distance,
)


class Linear(torch.nn.Module):
    """f(x) = <w, x>: gradient norm ‖w‖ everywhere."""

    def __init__(self, norm: float) -> None:
        super().__init__()
        w = torch.randn(3 * 8 * 8, generator=torch.Generator().manual_seed(0))
        self.w = torch.nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def test_gradient_penalty_zero_for_1_lipschitz_positive_otherwise():
    real, fake = torch.rand(16, 3, 8, 8), torch.rand(16, 3, 8, 8)
    assert float(L.gradient_penalty(Linear(1.0), real, fake).detach()) == pytest.approx(
        0.0, abs=1e-9
    )
    assert float(L.gradient_penalty(Linear(3.0), real, fake).detach()) == pytest.approx(
        10 * 4, rel=1e-5
    )
    gp = L.gradient_penalty(Linear(0.5), real, fake)
    gp.backward()  # differentiable: the critic learns from it
    assert float(gp.detach()) == pytest.approx(10 * 0.25, rel=1e-5)


def test_kl_and_wasserstein_signs():
    zero = torch.zeros(4, 8)
    assert float(L.kl_divergence(zero, zero)) == 0.0
    assert float(L.kl_divergence(zero + 1, zero)) == pytest.approx(4.0)  # 0.5·8·1 per sample
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])
    assert float(L.wgan_critic_loss(real, fake)) == -2.0  # critic separates: loss < 0
    assert float(L.bce_discriminator_loss(real * 9, -fake - 9)) < 1e-3
    assert float(L.bce_generator_loss(torch.tensor([-9.0]))) > 8


def test_dual_terms():
    varied, flat = torch.rand(8, 3, 8, 8) * 2 - 1, torch.zeros(8, 3, 8, 8)
    assert float(L.colour_variety(varied)) > float(L.colour_variety(flat))
    # many colours beat a few saturated ones (the collapse the plain std rewarded)
    two = torch.sign(torch.randn(8, 1, 1, 1)).expand(8, 3, 8, 8).contiguous()
    assert float(L.colour_variety(varied)) > float(L.colour_variety(two)) + 0.3
    p = L.colour_histogram(varied)
    assert p.shape == (216,) and float(p.sum()) == pytest.approx(1.0)
    assert (
        float(L.colour_variety_loss(varied, flat)) < 0 < float(L.colour_variety_loss(flat, varied))
    )
    logit = torch.zeros(4)
    assert float(L.dual_classifier_loss(logit, logit)) == pytest.approx(2 * math.log(2))
    assert float(L.dual_classifier_loss(-9 + logit, 9 + logit)) < 1e-3
    assert float(L.dual_classifier_loss(-9 + logit, 9 + logit, swapped=True)) > 17
    e = torch.randn(4, 5, requires_grad=True)
    assert float(L.embedding_distance(e, e).detach()) == 0.0
    L.embedding_distance(e, torch.zeros(4, 5)).backward()
    assert e.grad is not None


def test_diversity_and_collapse_warning():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    assert batch_diversity(x[:1].repeat(8, 1, 1, 1)) == 0.0
    assert 0.7 < batch_diversity(x) < 0.9  # uniform noise: sqrt(2/3)
    assert collapse_warning(0.05, 0.6) and "mode collapse" in collapse_warning(0.05, 0.6)
    assert collapse_warning(0.5, 0.6) is None


def test_swd_prefers_the_same_distribution():
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.rand(32, 3, 32, 32, generator=gen) * 2 - 1 for _ in range(2))
    blurred = F.interpolate(F.avg_pool2d(a, 4), scale_factor=4, mode="nearest")
    same, other = sliced_wasserstein_distance(a, b), sliced_wasserstein_distance(a, blurred)
    assert len(same) == 2  # 32 px and the 16 px low-pass
    assert same[0] < other[0] / 2  # the fine level sees the missing detail


def test_event_files_read_by_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    w = open_writer(tmp_path / "events")
    w.add_scalar("loss/d", 0.25, 5)
    w.add_scalar("images_per_s", 50.0, 5)
    grid = np.zeros((6, 10, 3), np.uint8)
    grid[:, :5] = 255
    w.add_image("samples", grid, 5, dataformats="HWC")
    w.add_scalar("loss/d", 0.5, 10)
    w.close()
    w.close()  # safe twice
    (path,) = (tmp_path / "events").iterdir()
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("loss/d")] == [(5, 0.25), (10, 0.5)]
    (img,) = acc.Images("samples")
    assert (img.step, img.width, img.height) == (5, 10, 6)
    assert read_scalars(path) == {"loss/d": [(5, 0.25), (10, 0.5)], "images_per_s": [(5, 50.0)]}


def _photo_patches(n: int = 64, size: int = 64) -> torch.Tensor:
    """n random patches of scikit-image's colour photographs, in [-1, 1]: diverse real data."""
    from skimage import data

    gen = torch.Generator().manual_seed(1)
    names = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "colorwheel")
    photos = [torch.from_numpy(getattr(data, k)()[..., :3].copy()).permute(2, 0, 1) for k in names]
    out = []
    for i in range(n):
        p = F.interpolate(photos[i % len(photos)][None].float(), scale_factor=0.5, mode="area")
        y, x = (int(torch.randint(0, s - size + 1, (1,), generator=gen)) for s in p.shape[-2:])
        out.append(p[0, :, y : y + size, x : x + size])
    return torch.stack(out) / 127.5 - 1


def test_near_copies_fire_on_a_collapsed_grid_and_not_on_real_data():
    real = _photo_patches()
    gen = torch.Generator().manual_seed(0)
    four = real[[0, 1, 2, 3]]  # 64 samples that are 4 pictures plus a little noise
    collapsed = (four.repeat(16, 1, 1, 1) + 0.1 * torch.randn(64, 3, 64, 64, generator=gen)).clamp(
        -1, 1
    )
    # the old measures miss it: the batch looks as diverse as the data, no picture dominates
    assert batch_diversity(collapsed) > 0.5 * batch_diversity(real)
    assert collapse_warning(batch_diversity(collapsed), batch_diversity(real)) is None
    assert cluster_warning(dominant_cluster(collapsed)) is None
    radius = copies_radius(real)
    data, grid = near_copies(real, radius), near_copies(collapsed, radius)
    assert (grid.near, grid.distinct, grid.n) == (1.0, 4, 64)
    assert data.near < 0.2 and data.distinct > 50, data
    warning = copies_warning(grid, data)
    assert warning and "only 4 distinct pictures" in warning
    assert copies_warning(data, data) is None  # real data is quiet
    one = (real[:1] + 0.05 * torch.randn(64, 3, 64, 64, generator=gen)).clamp(-1, 1)
    assert copies_warning(near_copies(one, copies_radius(None))) is not None  # no data: absolute
    assert copies_warning(near_copies(real, copies_radius(None))) is None


def test_dominant_cluster_sees_a_partial_collapse():
    gen = torch.Generator().manual_seed(0)
    distinct = torch.rand(20, 3, 16, 16, generator=gen) * 2 - 1
    one = torch.rand(1, 3, 16, 16, generator=gen) * 2 - 1
    copies = (one + 0.05 * torch.randn(12, 3, 16, 16, generator=gen)).clamp(-1, 1)
    partial = torch.cat([copies, distinct[:8]])  # 60 % near-copies of one image
    assert batch_diversity(partial) > 0.5 * batch_diversity(distinct)  # looks diverse enough
    assert collapse_warning(batch_diversity(partial), batch_diversity(distinct)) is None
    assert dominant_cluster(distinct) == pytest.approx(1 / 20)
    assert dominant_cluster(partial) == pytest.approx(0.6)
    assert dominant_cluster(one.repeat(8, 1, 1, 1)) == 1.0
    assert cluster_warning(dominant_cluster(partial)) and "60%" in cluster_warning(0.6)
    assert cluster_warning(dominant_cluster(distinct)) is None
