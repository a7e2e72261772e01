"""Cues change scenes, cues and the latent as they say; parameters ramp over fades."""

from pathlib import Path

import numpy as np
import pytest

from performer.core.control import Controller, Cue
from performer.core.latent import seed_vector
from performer.show import load_show

SHOW = """
[models.m]
checkpoint = "m.pt"
[shaders]
chain = ["grade"]
[shaders.params]
"grade.saturation" = 1.0
[[scenes]]
name = "a"
seed = 1
fade = 2.0
[[scenes]]
name = "b"
seed = 2
fade = 1.0
params = { "grade.saturation" = 0.0 }
[[scenes]]
name = "c"
z = [1, 0, 0, 0]
fade = 0
[cues]
order = ["b", "c", "a"]
"""


@pytest.fixture
def controller(tmp_path: Path) -> Controller:
    (tmp_path / "show.toml").write_text(SHOW)
    return Controller(load_show(tmp_path / "show.toml"), {"m": 4})


def test_starts_at_first_cue(controller):
    assert controller.scene.name == "b"
    assert np.array_equal(controller.latent.z(), seed_vector(2, 4))


def test_next_prev_and_goto(controller):
    controller.apply(Cue("next"))
    assert controller.scene.name == "c" and controller.cue_index == 1
    controller.step(0.0)
    assert np.array_equal(controller.latent.z(), np.array([1, 0, 0, 0], np.float32))
    controller.apply(Cue("next"))
    controller.apply(Cue("next"))  # wraps around
    assert controller.scene.name == "b" and controller.cue_index == 0
    controller.apply(Cue("prev"))
    assert controller.scene.name == "a"
    controller.apply(Cue("scene", ("c",)))
    assert controller.scene.name == "c"
    controller.apply(Cue("cue", (1,)))
    assert controller.scene.name == "c"


def test_params_ramp_over_the_fade(controller):
    assert controller.params()["grade.saturation"] == 0.0
    controller.apply(Cue("scene", ("a",)))  # fade 2 s, saturation back to 1.0
    controller.step(1.0)
    mid = controller.params()["grade.saturation"]
    assert 0.2 < mid < 0.8
    controller.step(1.5)
    assert controller.params()["grade.saturation"] == 1.0


def test_nudge_random_freeze(controller):
    z0 = controller.step(0.0)
    controller.apply(Cue("nudge", (0, 0.5)))
    z1 = controller.step(0.0)
    assert np.isclose(np.linalg.norm(z1 - z0), 0.5, atol=1e-5)
    controller.apply(Cue("random"))
    controller.step(5.0)
    z2 = controller.step(0.0)
    assert np.linalg.norm(z2 - z1) > 0.5
    controller.apply(Cue("freeze"))
    assert controller.latent.frozen


def test_app_actions_are_passed_up(controller):
    for action in ("save", "quit", "hud", "fullscreen", "reload"):
        assert controller.apply(Cue(action)) is True
    assert controller.apply(Cue("next")) is False
    with pytest.raises(ValueError):
        controller.apply(Cue("explode"))
