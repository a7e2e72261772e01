"""The one seed convention: how `seed = N` becomes a latent z, on stage and in the studio.

Shows (performer) and `stage analyze` (training) both draw "seed N" here, so a grid labelled
with seed numbers shows what `seed = N` shows on stage.
"""

from __future__ import annotations

import numpy as np


def seed_vector(seed: int, dim: int) -> np.ndarray:
    """The latent anchor for an integer seed: z ~ N(0, I), the same on every machine."""
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
