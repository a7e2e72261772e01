"""Training figures that need no downloaded weights: the mode-collapse watch (batch diversity,
near-copies in a sample grid, the dominant repeated picture) and the sliced Wasserstein distance
on Laplacian-pyramid patches (Karras et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def batch_diversity(images: torch.Tensor) -> float:
    """Mean pairwise distance between the images of a batch, as RMS per value (images in
    [-1, 1]: 0 when all images are equal, ≈0.8 for independent uniform noise)."""
    x = images.detach().float().flatten(1)
    if x.shape[0] < 2:
        return 0.0
    d = torch.cdist(x, x).square()
    n = x.shape[0]
    return float((d.sum() / (n * (n - 1) * x.shape[1])).sqrt())


def collapse_warning(generated: float, data: float, ratio: float = 0.3) -> str | None:
    """A message when the generator's batch diversity is below `ratio` of the data's own."""
    if data > 0 and generated < ratio * data:
        return (
            f"possible mode collapse: batch diversity {generated:.3f} is below {ratio:g} x the"
            f" data's {data:.3f} (samples look alike; try a lower learning rate or more data)"
        )
    return None


def dominant_cluster(images: torch.Tensor, radius: float = 0.25) -> float:
    """The largest fraction of a batch that are near-copies of one image: greedy clustering
    where two samples are "the same" when their RMS distance is below `radius` x the batch's
    spread (its `batch_diversity`). 1/N for all-distinct samples, 1.0 for a full collapse;
    sees a partial collapse (say 60 % copies of one picture) that the mean diversity hides."""
    x = images.detach().float().flatten(1)
    n = x.shape[0]
    if n < 2:
        return 1.0
    d = torch.cdist(x, x) / x.shape[1] ** 0.5  # RMS per value
    spread = float((d.square().sum() / (n * (n - 1))).sqrt())
    if spread <= 0:
        return 1.0
    near = d <= radius * spread
    free = torch.ones(n, dtype=torch.bool)
    best = 0
    while bool(free.any()):  # take the densest neighbourhood, remove it, repeat
        counts = (near & free[None, :]).sum(1).masked_fill(~free, -1)
        i = int(counts.argmax())
        members = near[i] & free
        best = max(best, int(members.sum()))
        free &= ~members
    return best / n


def cluster_warning(fraction: float, limit: float = 0.5) -> str | None:
    """A message when more than `limit` of a batch are near-copies of one image."""
    if fraction > limit:
        return (
            f"possible partial mode collapse: {fraction:.0%} of the samples are near-copies of"
            " one image (the pixel diversity can still look fine)"
        )
    return None


def thumbnails(images: torch.Tensor, side: int = 8) -> torch.Tensor:
    """(N, 3·side·side) area-averaged thumbnails: the picture as a viewer sees a grid cell,
    blind to pixel noise and fine texture (what makes two samples "the same picture")."""
    x = images.detach().float()
    if x.shape[-1] > side or x.shape[-2] > side:
        x = F.adaptive_avg_pool2d(x, side)
    return x.flatten(1)


@dataclass(frozen=True)
class Copies:
    """How many pictures a batch really holds: `near`, the share of images that have a
    near-copy in the batch; `distinct`, how many groups of near-copies cover it (N when all
    differ, 1 for one picture repeated); `n`, the batch size."""

    near: float
    distinct: int
    n: int


def near_copies(images: torch.Tensor, radius: float) -> Copies:
    """Near-copies in a batch: two images are copies when their 8x8 thumbnails differ by less
    than `radius` (RMS per value, images in [-1, 1]; 8x8 thumbnails tell 64 px patches of
    different photographs apart as well as 16x16 ones, and average 8x more noise away).
    Distinct groups are counted greedily, densest neighbourhood first."""
    f = thumbnails(images)
    n = f.shape[0]
    if n < 2:
        return Copies(0.0, n, n)
    near = torch.cdist(f, f) / f.shape[1] ** 0.5 <= radius
    share = float((near.sum(1) > 1).float().mean())  # the diagonal is always near
    free = torch.ones(n, dtype=torch.bool)
    groups = 0
    while bool(free.any()):
        counts = (near & free[None, :]).sum(1).masked_fill(~free, -1)
        free &= ~near[int(counts.argmax())]
        groups += 1
    return Copies(share, groups, n)


def copies_radius(data: torch.Tensor | None, fraction: float = 0.1) -> float:
    """The near-copy radius: `fraction` of the data's thumbnail spread (so dim or low-contrast
    footage is judged on its own scale); 0.08 (≈10/255 RMS) when there is no data."""
    if data is None or data.shape[0] < 2:
        return 0.08
    return max(1e-3, fraction * batch_diversity(thumbnails(data)))


def copies_warning(samples: Copies, data: Copies | None = None, share: float = 0.5) -> str | None:
    """A message when at least `share` of the samples have a near-copy and they hold fewer than
    half as many distinct pictures as as many real images do (a grid of a few repeated
    pictures: the collapse a mean diversity can miss)."""
    if samples.near < share or (data is not None and samples.distinct >= 0.5 * data.distinct):
        return None
    real = f"; {data.n} real images: {data.distinct} distinct" if data is not None else ""
    return (
        f"mode collapse: the {samples.n} samples are only {samples.distinct} distinct"
        f" picture{'s' if samples.distinct != 1 else ''}"
        f" ({samples.near:.0%} have a near-copy{real}); try a lower learning rate, more data or"
        " another --seed"
    )


_KERNEL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.outer(_KERNEL, _KERNEL).to(x)[None, None].repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from full resolution down to `min_size` (the last is the low-pass)."""
    levels = []
    while x.shape[-1] > min_size:
        small = _blur(x)[..., ::2, ::2]
        up = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
        levels.append(x - _blur(up))
        x = small
    levels.append(x)
    return levels


def _descriptors(
    level: torch.Tensor, per_image: int, patch: int, gen: torch.Generator
) -> torch.Tensor:
    n, c, h, w = level.shape
    if h < patch or w < patch:
        patch = min(h, w)
    ys = torch.randint(0, h - patch + 1, (n, per_image), generator=gen)
    xs = torch.randint(0, w - patch + 1, (n, per_image), generator=gen)
    patches = level.unfold(2, patch, 1).unfold(3, patch, 1)  # (n, c, H', W', p, p)
    idx = torch.arange(n)[:, None]
    d = patches[idx, :, ys, xs]  # (n, per_image, c, p, p)
    d = d.reshape(-1, c, patch * patch)
    d = (d - d.mean(dim=(0, 2), keepdim=True)) / d.std(dim=(0, 2), keepdim=True).clamp_min(1e-8)
    return d.flatten(1)


def _sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, dirs: int, repeats: int, gen: torch.Generator
) -> float:
    total = 0.0
    for _ in range(repeats):
        proj = torch.randn(a.shape[1], dirs, generator=gen)
        proj /= proj.norm(dim=0, keepdim=True)
        pa, _ = torch.sort(a @ proj, dim=0)
        pb, _ = torch.sort(b @ proj, dim=0)
        total += float((pa - pb).abs().mean())
    return total / repeats


@torch.no_grad()
def sliced_wasserstein_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    per_image: int = 128,
    patch: int = 7,
    dirs: int = 128,
    repeats: int = 4,
    seed: int = 0,
) -> list[float]:
    """SWD ×10³ per Laplacian level (finest first) between two equal-size image batches in
    [-1, 1]: 7x7 neighbourhoods, 128 per image, normalised per channel, 4x128 projections.
    Lower is closer; the mean over levels is the usual single figure."""
    if real.shape[0] != fake.shape[0]:
        n = min(real.shape[0], fake.shape[0])
        real, fake = real[:n], fake[:n]
    gen = torch.Generator().manual_seed(seed)
    out = []
    for lr, lf in zip(
        laplacian_pyramid(real.float().cpu()), laplacian_pyramid(fake.float().cpu()), strict=True
    ):
        da = _descriptors(lr, per_image, patch, gen)
        db = _descriptors(lf, per_image, patch, gen)
        out.append(1e3 * _sliced_wasserstein(da, db, dirs, repeats, gen))
    return out
