"""Latent math: slerp, fades between scenes, drift, nudges."""

import numpy as np

from performer.core.latent import LatentState, Target, orthonormal_directions, seed_vector, slerp


def test_seed_vector_is_deterministic():
    assert np.array_equal(seed_vector(5, 100), seed_vector(5, 100))
    assert not np.array_equal(seed_vector(5, 100), seed_vector(6, 100))


def test_slerp_endpoints_and_norm():
    a, b = seed_vector(1, 64), seed_vector(2, 64)
    assert np.allclose(slerp(a, b, 0), a, atol=1e-5)
    assert np.allclose(slerp(a, b, 1), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    expected = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b))
    assert abs(np.linalg.norm(mid) - expected) < 1e-3  # stays on the shell, not inside it
    assert np.linalg.norm(0.5 * (a + b)) < expected - 1  # which a linear mix would not


def test_fade_goes_between_anchors_and_lands_on_target():
    a, b = seed_vector(1, 32), seed_vector(2, 32)
    state = LatentState(Target(a))
    state.go(Target(b), fade=2.0)
    assert np.allclose(state.z(), a, atol=1e-5)
    state.step(1.0)
    mid = state.z()
    ua, ub, um = (v / np.linalg.norm(v) for v in (a, b, mid))
    angle = lambda x, y: np.arccos(np.clip(np.dot(x, y), -1, 1))  # noqa: E731
    # mid-fade lies on the arc between the anchors: the two angles add up to the whole
    assert abs(angle(ua, um) + angle(um, ub) - angle(ua, ub)) < 1e-4
    assert 0.3 * angle(ua, ub) < angle(ua, um) < 0.7 * angle(ua, ub)
    state.step(1.0)
    assert np.array_equal(state.z(), b)
    assert state.fade_progress == 1.0


def test_zero_fade_is_a_cut():
    a, b = seed_vector(1, 8), seed_vector(2, 8)
    state = LatentState(Target(a))
    state.go(Target(b), fade=0)
    assert np.array_equal(state.z(), b)


def test_drift_moves_smoothly_and_freezes():
    a = seed_vector(3, 16)
    state = LatentState(Target(a, speed=0.5, amplitude=0.8))
    zs = []
    for _ in range(60):
        state.step(1 / 60)
        zs.append(state.z())
    steps = [np.linalg.norm(y - x) for x, y in zip(zs, zs[1:], strict=False)]
    assert max(steps) > 0 and max(steps) < 0.2  # moving, without jumps
    assert np.linalg.norm(zs[-1] - a) < 0.8 * np.sqrt(16) * 1.5  # bounded around the anchor
    state.frozen = True
    before = state.z()
    state.step(1.0)
    assert np.array_equal(state.z(), before)


def test_nudge_and_directions():
    d = orthonormal_directions(10, 4)
    assert np.allclose(d @ d.T, np.eye(4), atol=1e-5)
    state = LatentState(Target(np.zeros(10, np.float32)))
    state.nudge(d[1], 0.5)
    assert np.allclose(state.z(), 0.5 * d[1])
