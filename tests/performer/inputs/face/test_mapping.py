"""Mapping math on a fake clock: dead zone, curve, gain, clamp; the face's contribution eases
out when lost and back in when found, with no jumps; sets cross-fade; parameters clamp."""

import numpy as np
import pytest

from performer.inputs.face.mapping import OFF, Envelope, FaceControl, FaceMapping, ParamRange, shape


def m(**kw) -> FaceMapping:
    return FaceMapping(**{"feature": "yaw", "target": "direction", "ref": 1, **kw})


def test_shape_dead_zone_curve_gain_clamp():
    assert shape(45.0, m()) == pytest.approx(0.5)  # yaw 45° of 90° → 0.5
    assert shape(-90.0, m(gain=2.0)) == pytest.approx(-2.0)
    dz = m(dead_zone=0.2)
    assert shape(0.2 * 90, dz) == 0.0 and shape(-0.1 * 90, dz) == 0.0
    assert shape(0.2 * 90 + 1e-6, dz) == pytest.approx(0.0, abs=1e-6)  # continuous at the edge
    assert shape(90.0, dz) == pytest.approx(1.0)  # the full range stays reachable
    assert shape(0.6 * 90, dz) == pytest.approx(0.5)
    assert shape(45.0, m(curve=2.0)) == pytest.approx(0.25)
    assert shape(-45.0, m(curve=2.0)) == pytest.approx(-0.25)  # the curve keeps the sign
    assert shape(90.0, m(gain=3.0, clamp=(-1.0, 1.5))) == 1.5
    assert shape(-90.0, m(gain=3.0, clamp=(-1.0, 1.5))) == -1.0
    # features with a rest value: the eyes are 1 at neutral, 0 shut
    eye = FaceMapping("eye_l", "param", "grade.contrast", gain=-1.0)
    assert shape(1.0, eye) == 0.0 and shape(0.0, eye) == pytest.approx(1.0)


def test_envelope_eases_over_the_given_times():
    env = Envelope()
    levels = [env.step(True, 0.1, ease_in=0.5, ease_out=1.0) for _ in range(5)]
    assert levels[-1] == 1.0 and all(b > a for a, b in zip(levels, levels[1:], strict=False))
    levels = [env.step(False, 0.1, ease_in=0.5, ease_out=1.0) for _ in range(10)]
    assert levels[4] > 0.3 and levels[-1] == 0.0


def control(**kw) -> FaceControl:
    vectors = {1: np.array([1, 0, 0, 0], np.float32), 2: np.array([0, 1, 0, 0], np.float32)}
    sets = {
        "look": [m(ref=1, gain=2.0), FaceMapping("smile", "param", "grade.saturation", 1.0)],
        "nod": [FaceMapping("pitch", "direction", 2)],
    }
    return FaceControl(
        sets,
        "look",
        lambda mp, model: vectors.get(mp.ref),
        ease_in=0.5,
        ease_out=1.0,
        params={"grade.saturation": ParamRange(1.0, 0.0, 3.0)},
        **kw,
    )


def run(c: FaceControl, features, seconds: float, dt: float = 1 / 60) -> list[np.ndarray]:
    out = []
    for _ in range(round(seconds / dt)):
        c.observe(features)
        c.step(dt)
        out.append(c.offset("m", 4).copy())
    return out


def test_face_lost_eases_to_zero_and_found_eases_back_without_jumps():
    c = control()
    face = {"yaw": 45.0, "pitch": 0.0, "smile": 0.5}
    on = run(c, face, 0.6)
    assert on[0][0] < 0.05  # eases in from nothing, not a jump
    assert on[-1][0] == pytest.approx(1.0)  # 2.0 × 45/90
    lost = run(c, None, 1.2)
    xs = [o[0] for o in lost]
    assert xs[-1] == 0.0
    assert all(b <= a for a, b in zip(xs, xs[1:], strict=False))  # monotonic
    assert max(abs(b - a) for a, b in zip(xs, xs[1:], strict=False)) < 0.05  # no jump
    assert 0.3 < xs[len(xs) // 2 - 15] < 0.9  # still on its way at 0.35 s of 1 s
    back = run(c, {**face, "yaw": -45.0}, 0.6)
    ys = [o[0] for o in back]
    assert ys[-1] == pytest.approx(-1.0)
    assert max(abs(b - a) for a, b in zip(ys, ys[1:], strict=False)) < 0.08


def test_toggle_switch_and_params():
    c = control()
    face = {"yaw": 90.0, "pitch": 45.0, "smile": 1.0}
    run(c, face, 1.0)
    assert c.apply_params({"grade.saturation": 1.5})["grade.saturation"] == 2.5
    assert c.apply_params({})["grade.saturation"] == 2.0  # the shader's default as the base
    big = FaceControl(
        {"s": [FaceMapping("smile", "param", "grade.saturation", 10.0)]},
        None,
        lambda *a: None,
        ease_in=0,
        params={"grade.saturation": ParamRange(1.0, 0.0, 3.0)},
    )
    big.observe(face)
    big.step(0.1)
    assert big.apply_params({})["grade.saturation"] == 3.0  # clamped to the shader's range

    assert not c.toggle()  # off: eases out like a lost face
    off = run(c, face, 1.0)
    assert off[0][0] > 1.5 and off[-1][0] == 0.0
    assert c.toggle(True)
    run(c, face, 1.0)

    c.switch("nod", fade=1.0)  # a scene with another set: cross-fade over its fade
    mid = run(c, face, 0.5)[-1]
    assert 0.5 < mid[0] < 1.5 and 0.1 < mid[1] < 0.4
    end = run(c, face, 0.6)[-1]
    assert end[0] == 0.0 and end[1] == pytest.approx(0.5)
    assert c.in_use
    c.switch(OFF, fade=0.0)
    assert not run(c, face, 0.1)[-1].any()
    assert not c.in_use  # no set plays: the tracker may idle (the face is still seen)
    c.switch(None, fade=0.0)  # None: the show's default set again
    assert c.in_use
    assert run(c, face, 0.1)[-1][0] == pytest.approx(2.0)
    c.switch(OFF, fade=1.0)  # while the set fades out it is still in use
    run(c, face, 0.5)
    assert c.in_use
    run(c, face, 0.6)
    assert not c.in_use
