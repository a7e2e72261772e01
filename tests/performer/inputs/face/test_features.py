"""Face features as math: head pose from a projected 3-D model, normalising, calibration, and
the One Euro filter on a fake clock."""

import math

import numpy as np
import pytest

from performer.inputs.face.features import (
    DEFAULT_NEUTRAL,
    FEATURES,
    POSE_MODEL,
    FeaturePipeline,
    FilterParams,
    OneEuro,
    camera_matrix,
    head_pose,
    normalise,
    rotation,
)

SIZE = (640, 480)


def project(yaw: float, pitch: float, roll: float, distance: float = 60.0) -> np.ndarray:
    p = POSE_MODEL @ rotation(yaw, pitch, roll).T + (0.0, 0.0, distance)
    p = p @ camera_matrix(SIZE).T
    return p[:, :2] / p[:, 2:]


@pytest.mark.parametrize(
    "ypr", [(0, 0, 0), (25, 0, 0), (0, -20, 0), (0, 0, 35), (-30, 15, -20), (40, -25, 10)]
)
def test_head_pose_recovers_known_rotations(ypr):
    got = head_pose(project(*ypr), SIZE)
    assert got is not None
    assert np.allclose(got, ypr, atol=0.5), (got, ypr)


def test_pose_signs_are_what_features_document():
    front = project(0, 0, 0)[0]  # the nose tip
    assert project(20, 0, 0)[0][0] > front[0] + 10  # yaw +: the face turns toward image right
    assert project(0, 20, 0)[0][1] < front[1] - 10  # pitch +: chin up, the nose rises
    # roll +: counter-clockwise in the image (y down): the eye line's right end goes up
    eyes = project(0, 0, 20)[[9, 10]]  # outer eye corners (33: image left, 263: image right)
    assert eyes[1][1] < eyes[0][1] - 5


def test_normalise_ranges_and_calibration():
    raw = {**DEFAULT_NEUTRAL}
    values = normalise(raw, DEFAULT_NEUTRAL)
    for k, v in values.items():
        assert v == pytest.approx(FEATURES[k].rest, abs=1e-9), k
    wild = {**raw, "yaw": 170.0, "size": 10.0, "mouth": 5.0, "eye_l": 0.0, "smile": -3}
    values = normalise(wild, DEFAULT_NEUTRAL)
    assert values["yaw"] == 90 and values["size"] == 1 and values["mouth_open"] == 1
    assert values["eye_l"] == 0 and values["smile"] == -1
    # roll wraps: 179° against a neutral of -179° is 2° away, not 358°
    assert normalise({**raw, "roll": 179.0}, {**raw, "roll": -179.0})["roll"] == pytest.approx(-2)

    pipe = FeaturePipeline()
    tilted = {**raw, "roll": 12.0, "x": 0.3, "size": 0.5}
    for i in range(10):
        pipe.update(tilted, i / 30)
    assert pipe.values["roll"] > 10
    assert pipe.calibrate()
    for i in range(10, 60):
        out = pipe.update(tilted, i / 30)
    assert abs(out["roll"]) < 0.5 and abs(out["x"]) < 0.02 and abs(out["size"]) < 0.02
    assert not FeaturePipeline().calibrate()  # no face seen: nothing to calibrate on


def test_one_euro_smooths_jitter_but_follows_motion():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    noisy = 0.5 + 0.05 * rng.standard_normal(t.size)
    f = OneEuro(FilterParams(min_cutoff=1.0, beta=0.0))
    out = np.array([f(x, s) for x, s in zip(noisy, t, strict=True)])
    assert out[60:].std() < noisy[60:].std() / 3  # jitter at rest is cut
    assert abs(out[60:].mean() - 0.5) < 0.01

    ramp = t * 1.0  # a steady movement of 1 unit/s
    lag = {}
    for beta in (0.0, 2.0):
        f = OneEuro(FilterParams(min_cutoff=1.0, beta=beta))
        out = np.array([f(x, s) for x, s in zip(ramp, t, strict=True)])
        lag[beta] = float(ramp[-1] - out[-1])
    # beta trades smoothing for lag when moving: the faster filter lags far less
    assert lag[0.0] > 0.1 and lag[2.0] < lag[0.0] / 3

    f = OneEuro()
    assert f(1.0, 0.0) == 1.0 and f(2.0, 0.0) == 1.0  # same timestamp: no division by zero
    f.reset()
    assert f(5.0, 1.0) == 5.0  # reset: starts afresh


def test_one_euro_cutoff_matches_a_first_order_lowpass():
    # with beta = 0 the filter is an exponential smoother of time constant 1/(2π·cutoff)
    f = OneEuro(FilterParams(min_cutoff=2.0, beta=0.0))
    f(0.0, 0.0)
    dt, tau = 0.001, 1 / (2 * math.pi * 2.0)
    y = 0.0
    for i in range(1, int(tau / dt) + 1):
        y = f(1.0, i * dt)
    assert y == pytest.approx(1 - math.exp(-1), abs=0.01)  # 63 % after one time constant
