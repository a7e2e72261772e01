"""Tempo, beats, cue steps, parameter overrides and ramps, blackout, z and offsets — through the
Controller, as OSC cues reach it, with time advanced by hand."""

from pathlib import Path

import numpy as np
import pytest

from performer.core.automation import Automation, Tempo
from performer.core.control import Controller, Cue
from performer.show import ShowError, load_show

SHOW = """
[models.m]
checkpoint = "m.pt"
[shaders]
chain = ["grade", "strobe"]
[shaders.params]
"grade.saturation" = 1.0
[[scenes]]
name = "a"
seed = 1
fade = 2.0
drift = { speed = 0.5, amplitude = 1.0 }
[[scenes]]
name = "b"
seed = 2
fade = 1.0
params = { "grade.saturation" = 0.0 }
[[scenes]]
name = "c"
seed = 3
fade = 0
[cues]
tempo = 90
order = [
  "a",
  { scene = "b", beats = 3, params = { "grade.saturation" = 2.0 } },
  { scene = "c", fade = 0.5, flash = "1b" },
]
"""


@pytest.fixture
def c(tmp_path: Path) -> Controller:
    (tmp_path / "show.toml").write_text(SHOW)
    return Controller(load_show(tmp_path / "show.toml"), {"m": 4})


def run(c: Controller, seconds: float, dt: float = 0.01) -> None:
    for _ in range(round(seconds / dt)):
        c.step(dt)


def test_tap_tempo_and_beats_to_seconds():
    t = Tempo()
    for i in range(5):
        t.beat(i * 0.5)
    assert t.bpm == pytest.approx(120.0)
    t.beat(10.0)  # a long gap starts afresh, keeping the tempo
    t.beat(10.4)
    assert t.bpm == pytest.approx(150.0)
    t.set(5000)
    assert t.bpm == 999.0 and t.seconds(4) == pytest.approx(4 * 60 / 999)
    a = Automation(bpm=120)
    assert a.seconds("8b") == pytest.approx(4.0) and a.seconds(1.5) == 1.5
    assert a.seconds("2.5s") == 2.5
    with pytest.raises(ValueError):
        a.seconds(-1.0)


def test_beat_cues_set_the_tempo(c):
    for _ in range(4):
        c.apply(Cue("beat", (), "osc"))
        run(c, 0.4)  # 150 bpm
    assert c.auto.tempo.bpm == pytest.approx(150.0)
    c.apply(Cue("tempo", (100.0,), "osc"))
    assert c.auto.tempo.bpm == 100.0


def test_cue_steps_fade_in_beats_with_their_own_params(c):
    assert c.show.tempo == 90.0
    c.apply(Cue("next"))  # → b over 3 beats at 90 bpm = 2 s; the cue says saturation 2, not 0
    assert c.scene.name == "b"
    run(c, 1.0)
    assert c.latent.fade_progress == pytest.approx(0.5, abs=0.01)
    assert c.params()["grade.saturation"] == pytest.approx(1.5, abs=0.02)  # 1 → 2
    run(c, 1.01)
    assert c.params()["grade.saturation"] == 2.0
    c.apply(Cue("next"))  # → c over 0.5 s: the cue's own params are gone with it
    run(c, 0.51)
    assert c.params()["grade.saturation"] == 1.0 and c.latent.fade_progress == 1.0


def test_scene_cue_with_a_fade_in_beats(c):
    c.apply(Cue("tempo", (120.0,), "osc"))
    c.apply(Cue("scene", ("c", "4b"), "osc"))  # 2 s at 120 bpm
    run(c, 1.0)
    assert c.latent.fade_progress == pytest.approx(0.5, abs=0.01)


def test_osc_params_hold_until_the_next_scene_then_fade_from_there(c):
    c.apply(Cue("param", ("grade.saturation", 2.5), "osc"))
    run(c, 5.0)
    assert c.params()["grade.saturation"] == 2.5  # the scene does not take it back
    c.apply(Cue("scene", (1,), "key"))  # b: saturation 0 over 1 s, starting from 2.5
    assert c.params()["grade.saturation"] == pytest.approx(2.5)
    run(c, 0.5)
    assert c.params()["grade.saturation"] == pytest.approx(1.25, abs=0.05)
    run(c, 0.6)
    assert c.params()["grade.saturation"] == 0.0


def test_param_ramps_in_seconds_and_beats(c):
    c.apply(Cue("param", ("grade.saturation", 3.0, 1.0), "osc"))
    run(c, 0.5)
    assert c.params()["grade.saturation"] == pytest.approx(2.0, abs=0.01)  # smoothstep midpoint
    run(c, 0.5)
    assert c.params()["grade.saturation"] == 3.0
    c.apply(Cue("param", ("grade.saturation", 1.0, "3b"), "osc"))  # 2 s at 90 bpm
    run(c, 1.0)
    assert c.params()["grade.saturation"] == pytest.approx(2.0, abs=0.01)


def test_blackout_fades_the_master_and_back(c):
    c.apply(Cue("blackout", (1, 1.0), "osc"))
    run(c, 0.5)
    assert c.params()["present.master"] == pytest.approx(0.5, abs=0.01)
    run(c, 0.6)
    assert c.params()["present.master"] == 0.0 and c.auto.blacked_out
    c.apply(Cue("scene", (2,), "osc"))  # a scene change does not lift a blackout
    assert c.params()["present.master"] == 0.0
    c.apply(Cue("param", ("present.master", 0.5), "osc"))
    c.apply(Cue("blackout", (0, 0), "osc"))
    assert c.params()["present.master"] == 0.5  # back to the composer's own master level


def test_a_flash_is_full_on_the_next_frame_then_falls_back(c):
    assert "strobe.amount" not in c.params()
    c.apply(Cue("flash", (0.5,), "osc"))
    c.step(0.1)  # however long the frame, the first one after the cue is at full
    assert c.params()["strobe.amount"] == 1.0
    c.step(0.25)  # halfway: (1 - 0.5)² — a light's fast fall
    assert c.params()["strobe.amount"] == pytest.approx(0.25)
    c.apply(Cue("param", ("strobe.amount", 0.4), "osc"))  # the composer's own level stays under
    c.step(0.2)
    assert c.params()["strobe.amount"] == pytest.approx(0.4)
    c.step(0.1)
    assert c.params()["strobe.amount"] == pytest.approx(0.4)  # the flash is over
    c.apply(Cue("flash", (), "osc"))  # the default release, 0.25 s
    run(c, 0.3)
    assert c.params()["strobe.amount"] == pytest.approx(0.4)
    c.apply(Cue("flash", (0,), "osc"))  # no release: one frame at full
    c.step(0.01)
    assert c.params()["strobe.amount"] == 1.0
    c.step(0.01)
    assert c.params()["strobe.amount"] == pytest.approx(0.4)


def test_a_cue_step_lands_with_its_flash(c):
    c.apply(Cue("cue", (2,), "osc"))  # flash = "1b": 2/3 s at 90 bpm
    c.step(0.01)
    assert c.params()["strobe.amount"] == 1.0
    c.step(1 / 3)
    assert c.params()["strobe.amount"] == pytest.approx(0.25, abs=0.02)
    run(c, 0.4)
    assert c.params().get("strobe.amount", 0.0) == 0.0
    c.apply(Cue("cue", (0,), "osc"))  # a step without one
    c.step(0.01)
    assert c.params().get("strobe.amount", 0.0) == 0.0


def test_z_and_offsets_along_directions(c):
    c.apply(Cue("z", (1.0, 2.0), "osc"))  # padded to the model's 4
    assert np.allclose(c.latent.target.anchor, [1, 2, 1, 2])
    d = c.directions["m"][1]
    c.apply(Cue("offset", ("2", 0.5), "osc"))
    c.apply(Cue("offset", ("2", 1.25), "osc"))  # absolute, not added
    assert float(np.dot(c.latent.offset, d)) == pytest.approx(1.25, abs=1e-5)
    with pytest.raises(ValueError, match="no latent direction"):
        c.apply(Cue("offset", ("9", 1.0), "osc"))


def test_engine_params_drive_the_drift(c):
    phase0 = c.latent.phase
    run(c, 1.0)
    assert c.latent.phase - phase0 == pytest.approx(0.5)  # the scene's speed
    c.apply(Cue("param", ("latent.speed", 2.0), "osc"))
    phase0 = c.latent.phase
    run(c, 1.0)
    assert c.latent.phase - phase0 == pytest.approx(1.0)
    c.apply(Cue("param", ("latent.per_beat", 0.25), "osc"))  # 90 bpm: 1.5 beats/s × 0.25 × 2
    phase0 = c.latent.phase
    run(c, 1.0)
    assert c.latent.phase - phase0 == pytest.approx(0.75)
    c.apply(Cue("param", ("latent.amplitude", 0.0), "osc"))
    c.step(0.01)
    assert np.allclose(c.latent.target_z(), c.latent.target.anchor + c.latent.offset)


def test_cue_step_problems_are_reported(tmp_path):
    bad = SHOW.replace(
        '{ scene = "c", fade = 0.5, flash = "1b" }', '{ scene = "zz", fade = 1, beats = 2 }'
    )
    bad = bad.replace('"a",\n', '{ scene = "a", flash = "soon" },\n')
    bad = bad.replace("tempo = 90", "tempo = 5")
    (tmp_path / "show.toml").write_text(bad)
    with pytest.raises(ShowError) as e:
        load_show(tmp_path / "show.toml")
    text = str(e.value)
    assert "cues.tempo" in text and "expected number in [20, 999], got integer 5" in text
    assert "cues.order[2].scene" in text and "no scene 'zz'" in text
    assert "cues.order[0].flash" in text and "seconds or beats like '1b', got 'soon'" in text


def test_a_flash_on_a_scene_without_a_strobe_is_refused(tmp_path):
    (tmp_path / "show.toml").write_text(SHOW.replace('chain = ["grade", "strobe"]', "chain = []"))
    where = r"cues.order\[2\].flash \(line 24\)"
    with pytest.raises(ShowError, match=where + ": scene 'c' plays through no `strobe`"):
        load_show(tmp_path / "show.toml")
