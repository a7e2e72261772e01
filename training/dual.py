"""Data-free dual-generator recipe ("(un)stable equilibrium"): D learns which generator made
an image (in the "diametric" arrangement, with the opposed loss on alternate batches); each
generator wants to pass as the other, to sit near the other's embeddings in D's feature space,
and to show more colour variety across its batch than the other. Weights are options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from models.dual import DualConfig, DualDiscriminator, StyleGenerator
from training import losses as L
from training.recipe import Recipe, adam, frozen

WEIGHTS = {"adv": 1.0, "embed": 1.0, "colour": 1.0}  # override with --weights k=v,...


def dual_config(size: int, width: float = 1.0, z_dim: int | None = None) -> DualConfig:
    return DualConfig(
        z_dim=z_dim or 128,
        w_dim=z_dim or 128,
        image_size=size,
        ch=max(1, round(32 * width)),
        max_ch=max(1, round(256 * width)),
    )


class DualRecipe(Recipe):
    kind = "dual"
    needs_data = False
    generators = ("G0", "G1")

    def __init__(self, config: DualConfig, options: dict[str, Any], device: torch.device) -> None:
        super().__init__(config, options, device)
        self.nets = {
            "G0": StyleGenerator(config),
            "G1": StyleGenerator(config),
            "D": DualDiscriminator(config),
        }
        for n in self.nets.values():
            n.to(device)
        lr = float(options["lr"])
        self.optims = {
            k: adam(n.parameters(), lr, (0.0, 0.99), device) for k, n in self.nets.items()
        }
        self.w = {**WEIGHTS, **options.get("weights", {})}
        self.arrangement = options.get("arrangement") or "diametric"
        if self.arrangement not in ("diametric", "classifier"):
            raise ValueError(
                f"dual: arrangement must be diametric or classifier, got {self.arrangement!r}"
            )
        options["arrangement"] = self.arrangement

    def images_per_step(self, batch: int) -> int:
        return 2 * batch

    def step(self, next_batch: Callable[[], torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        G0, G1, D = self.nets["G0"], self.nets["G1"], self.nets["D"]
        batch = int(self.options["batch"])
        z = self.z(batch)
        with self.autocast():
            x0, x1 = G0(z), G1(z)
            swapped = self.arrangement == "diametric" and step % 2 == 1
            d_loss = L.dual_classifier_loss(D(x0.detach()), D(x1.detach()), swapped)
        self.update(d_loss, "D")
        with frozen(D), self.autocast():
            e0, l0 = D.features(x0)
            e1, l1 = D.features(x1)
            adv0, adv1 = L.dual_impostor_loss(l0, 1.0), L.dual_impostor_loss(l1, 0.0)
            emb0, emb1 = L.embedding_distance(e0, e1), L.embedding_distance(e1, e0)
            col0, col1 = L.colour_variety_loss(x0, x1), L.colour_variety_loss(x1, x0)
            w = self.w
            g0 = w["adv"] * adv0 + w["embed"] * emb0 + w["colour"] * col0
            g1 = w["adv"] * adv1 + w["embed"] * emb1 + w["colour"] * col1
        self.update(g0 + g1, "G0", "G1")  # each term holds the other generator fixed
        return {
            "d": d_loss.detach(),
            "g0": g0.detach(),
            "g1": g1.detach(),
            "embed": (emb0 + emb1).detach() / 2,
            "colour0": L.colour_variety(x0.detach()),
            "colour1": L.colour_variety(x1.detach()),
        }

    def sample(self, gens: dict[str, nn.Module], z: torch.Tensor) -> torch.Tensor:
        """G0 and G1 side by side for each z: (2N, 3, S, S), pairs adjacent."""
        a, b = gens["G0"](z), gens["G1"](z)
        return torch.stack([a, b], dim=1).flatten(0, 1)
