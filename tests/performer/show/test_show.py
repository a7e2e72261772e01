"""show.toml validation: precise errors with key path and line; presets never touch the show."""

from pathlib import Path

import pytest

from performer.show import DEFAULT_SHOW, Scene, ShowError, load_show, save_preset

GOOD = """\
[models.m]
checkpoint = "m.pt"

[output]
width = 640
height = 360

[[scenes]]
name = "one"
seed = 1

[[scenes]]
name = "two"
z = [0.5, -0.5]
fade = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def test_default_show_validates():
    show = load_show(DEFAULT_SHOW)
    assert show.scenes and show.cues and show.models
    assert show.output.fps == 60


def test_good_show(tmp_path):
    show = load_show(write(tmp_path, GOOD))
    assert show.models[0].checkpoint == tmp_path / "m.pt"
    assert show.output.width == 640 and show.output.mode == "window"
    assert show.scenes[1].z == (0.5, -0.5) and show.scenes[1].fade == 3.0
    assert show.cues == (0, 1)
    assert show.chain == ("grade", "trails")


def problems(tmp_path, text) -> list[str]:
    with pytest.raises(ShowError) as e:
        load_show(write(tmp_path, text))
    return e.value.problems


def test_unknown_key_names_path_and_line(tmp_path):
    (p,) = problems(tmp_path, GOOD.replace("fade = 3", "fade = 3\nfadd = 2"))
    assert p.startswith("scenes[1].fadd (line 16): unknown key")


def test_wrong_type_and_range(tmp_path):
    ps = problems(
        tmp_path,
        GOOD.replace("fade = 3", 'fade = -1\ndrift = { speed = "fast" }').replace(
            "width = 640", "width = 640.5"
        ),
    )
    assert "output.width (line 5): expected int in [16, 16384], got number 640.5" in ps[0]
    assert any(
        p == "scenes[1].fade (line 15): expected number in [0, 3600], got integer -1" for p in ps
    )
    assert any("scenes[1].drift.speed" in p and "string 'fast'" in p for p in ps)


def test_bad_references(tmp_path):
    ps = problems(
        tmp_path,
        GOOD + '\n[cues]\norder = ["one", "three"]\n' + '[[scenes]]\nname = "x"\nmodel = "nope"\n',
    )
    assert any("cues.order[1]" in p and "no scene 'three'" in p for p in ps)
    assert any("scenes[2].model" in p and "no model named 'nope'" in p for p in ps)


def test_collects_every_problem_and_bad_toml(tmp_path):
    ps = problems(tmp_path, GOOD.replace("[output]", "[output]\nmode = 'projector'\nbogus = 1"))
    assert len(ps) == 2
    with pytest.raises(ShowError, match="not valid TOML"):
        load_show(write(tmp_path, "[[scenes]\n"))
    with pytest.raises(ShowError, match="cannot read"):
        load_show(tmp_path / "missing.toml")


def test_presets_are_saved_beside_and_loaded_back(tmp_path):
    path = write(tmp_path, GOOD)
    before = path.read_text()
    show = load_show(path)
    scene = Scene(
        "preset 1", "m", None, (0.25, 1.5), show.scenes[0].drift, 2.0, {"grade.gamma": 1.2}
    )
    save_preset(show.rehearsal.presets, scene)
    save_preset(show.rehearsal.presets, Scene("preset 2", "m", 7))
    assert path.read_text() == before  # never the show file
    again = load_show(path)
    assert [s.name for s in again.scenes] == ["one", "two", "preset 1", "preset 2"]
    assert again.scenes[2].z == (0.25, 1.5) and again.scenes[2].params == {"grade.gamma": 1.2}
    assert again.cues == (0, 1)


def test_a_scene_may_have_its_own_chain(tmp_path):
    text = GOOD.replace('name = "two"', 'name = "two"\nchain = ["kaleido", "bloom"]')
    show = load_show(write(tmp_path, text))
    one, two = show.scenes
    assert one.chain is None and show.scene_chain(one) == ("grade", "trails")
    assert two.chain == ("kaleido", "bloom") and show.scene_chain(two) == ("kaleido", "bloom")
    assert show.programs == ("upscale", "grade", "trails", "kaleido", "bloom", "present")
    bad = GOOD.replace('name = "two"', 'name = "two"\nchain = ["present", 3]')
    found = problems(tmp_path, bad)
    assert any(p.startswith("scenes[1].chain[0]") and "always in the chain" in p for p in found)
    assert any(p.startswith("scenes[1].chain[1]") and "program name" in p for p in found)
