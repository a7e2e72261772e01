"""The live video mix stays on the generator's device: its slerp matches the latent module's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from performer.core.latent import slerp as slerp_np
from performer.engine.encoder_mix import slerp


@pytest.mark.parametrize("t", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_device_slerp_matches_the_latent_modules(t: float):
    rng = np.random.default_rng(3)
    for a, b in [
        (rng.standard_normal(64), rng.standard_normal(64) * 2),
        (np.ones(8), np.ones(8) * 3),  # parallel
        (np.zeros(8), rng.standard_normal(8)),  # a zero vector
    ]:
        a, b = a.astype(np.float32), b.astype(np.float32)
        got = slerp(torch.from_numpy(a), torch.from_numpy(b), t).numpy()
        assert np.allclose(got, slerp_np(a, b, t), atol=1e-5), (a, b, t)
