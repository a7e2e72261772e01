"""Loss terms: VAE (KL, pixel and feature-space reconstruction), WGAN-GP (λ = 10), DCGAN
binary cross-entropy, and the dual-generator terms of "(un)stable equilibrium".

Pure functions of tensors (and the critic they differentiate through); no optimizer state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

GP_LAMBDA = 10.0


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)), summed over z and averaged over the batch."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(1).mean()


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def recon_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Pixel reconstruction: mean absolute error (sharper than squared error)."""
    return (x_hat - x).abs().mean()


def feature_recon_loss(
    features: Callable[[torch.Tensor], torch.Tensor | list[torch.Tensor]],
    x_hat: torch.Tensor,
    x: torch.Tensor,
) -> torch.Tensor:
    """Learned similarity (Larsen et al. 2016): squared distance in the critic's feature space.
    The real image's features are a fixed target. `features` may return one tensor or a list
    (several levels: a perceptual loss); each level's distance is divided by its target's mean
    square, so the levels weigh alike and the term does not grow as the critic's features do."""
    with torch.no_grad():
        targets = features(x)
    outs = features(x_hat)
    if isinstance(targets, torch.Tensor):
        return (outs - targets).square().mean()
    terms = [
        (o.float() - t.float()).square().mean() / t.float().square().mean().clamp_min(1e-6)
        for o, t in zip(outs, targets, strict=True)
    ]
    return torch.stack(terms).mean()


def diff_augment(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020), differentiable: per-image brightness, saturation and
    contrast jitter and a random translation (by up to 1/8 of the side, zero-filled). Applied
    alike to everything the critic sees, so a critic on little data does not memorise it and the
    generator is not taught the augmentation."""
    if strength <= 0:
        return x
    n, dev = x.shape[0], x.device
    r = lambda: torch.rand(n, 1, 1, 1, device=dev, dtype=x.dtype)  # noqa: E731
    x = x + (r() - 0.5) * strength
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (1 + (r() * 2 - 1) * strength) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + (r() - 0.5) * strength) + mean
    s = x.shape[-1]
    shift = max(1, round(s * 0.125 * strength))
    dx, dy = torch.randint(-shift, shift + 1, (2, n), device=dev)
    base = torch.arange(s, device=dev)
    gx = (base[None] + dx[:, None]).clamp(-1, s)  # -1 and s index the zero padding
    gy = (base[None] + dy[:, None]).clamp(-1, s)
    padded = F.pad(x, (1, 1, 1, 1))
    idx_y = (gy + 1)[:, None, :, None].expand(-1, x.shape[1], -1, s + 2)
    rows = padded.gather(2, idx_y)
    idx_x = (gx + 1)[:, None, None, :].expand(-1, x.shape[1], s, -1)
    out = rows.gather(3, idx_x)
    if x.is_contiguous(memory_format=torch.channels_last):  # keep the convolutions' fast path
        out = out.contiguous(memory_format=torch.channels_last)
    return out


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = GP_LAMBDA,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): λ·E[(‖∇D(x̂)‖₂ − 1)²] at random points x̂ between
    real and fake samples. Always in float32 (call it outside autocast)."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    mixed = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).requires_grad_()
    score = critic(mixed)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return weight * (grad.flatten(1).norm(2, dim=1) - 1.0).square().mean()


def wgan_critic_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """−E[D(real)] + E[D(fake)] (the gradient penalty is added beside it)."""
    return fake_score.mean() - real_score.mean()


def wgan_generator_loss(fake_score: torch.Tensor) -> torch.Tensor:
    return -fake_score.mean()


def bce_discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """DCGAN: binary cross-entropy, real → 1, fake → 0 (sigmoid inside, numerically stable)."""
    ones, zeros = torch.ones_like(real_logit), torch.zeros_like(fake_logit)
    return F.binary_cross_entropy_with_logits(
        real_logit, ones
    ) + F.binary_cross_entropy_with_logits(fake_logit, zeros)


def bce_generator_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: −log D(G(z))."""
    return F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))


# -- dual generators (Broad & Grierson): no data; D tells G0's images (label 0) from G1's (1)


def dual_classifier_loss(
    logit0: torch.Tensor, logit1: torch.Tensor, swapped: bool = False
) -> torch.Tensor:
    """D classifies which generator made each image; `swapped` is the diametrically opposed
    loss (labels exchanged), used on alternate batches in the "diametric" arrangement."""
    a, b = (1.0, 0.0) if swapped else (0.0, 1.0)
    return F.binary_cross_entropy_with_logits(
        logit0, torch.full_like(logit0, a)
    ) + F.binary_cross_entropy_with_logits(logit1, torch.full_like(logit1, b))


def dual_impostor_loss(logit: torch.Tensor, other_label: float) -> torch.Tensor:
    """A generator's wish to be classified as the other one."""
    return F.binary_cross_entropy_with_logits(logit, torch.full_like(logit, other_label))


def embedding_distance(mine: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Squared distance between the two generators' embeddings of the same z (the other's held
    fixed): each generator pulls its images towards the other's in D's feature space."""
    return (mine - other.detach()).square().sum(1).mean() / mine.shape[1]


def colour_histogram(images: torch.Tensor, bins: int = 6, pixels: int = 4096) -> torch.Tensor:
    """A batch's colours as a soft joint RGB histogram (bins³ cells, sums to 1), differentiable:
    each channel value spreads linearly over its two nearest bin centres. A fixed, evenly
    strided subset of `pixels` pixels keeps it cheap (and deterministic)."""
    x = images.float().permute(0, 2, 3, 1).reshape(-1, 3)
    if x.shape[0] > pixels:
        x = x[torch.linspace(0, x.shape[0] - 1, pixels, device=x.device).long()]
    u = (x.clamp(-1, 1) + 1) * (bins - 1) / 2  # 0 … bins-1
    centres = torch.arange(bins, device=x.device, dtype=x.dtype)
    w = torch.relu(1 - (u[:, :, None] - centres).abs())  # (P, 3, bins), each row sums to 1
    joint = torch.einsum("pa,pb,pc->abc", w[:, 0], w[:, 1], w[:, 2])
    return joint.flatten() / x.shape[0]


def colour_variety(images: torch.Tensor) -> torch.Tensor:
    """How varied a batch's colours are: the entropy of its joint colour histogram (0 … 1: one
    colour … every colour equally) — many colours, not just a few saturated ones — plus how
    much each pixel's colour changes across the batch (so the latent keeps mattering)."""
    p = colour_histogram(images)
    entropy = -(p * (p + 1e-12).log()).sum() / math.log(p.numel())
    per_pixel = images.float().std(dim=0).mean()
    return entropy + 0.5 * per_pixel


def colour_variety_loss(mine: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Rewarded for more colour variety than the other generator: other − mine (other fixed)."""
    return colour_variety(other).detach() - colour_variety(mine)
