"""The show file's [face] section and mapping sets: read into FaceSpec, every problem named by
key path and line; `stage check` finds missing cameras, directions and encoders."""

from pathlib import Path

import cv2
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from performer.cli import main as stage_main
from performer.inputs.face.mapping import OFF, FaceMapping
from performer.inputs.face.rig import check_face, principal_names
from performer.show import ShowError, load_show, scene_to_toml
from tests.performer.inputs.face.face_frames import base

SHOW = """\
[models.m]
checkpoint = "m.pt"

[[scenes]]
name = "a"
seed = 1

[[scenes]]
name = "b"
seed = 2
face = "nod"

[[scenes]]
name = "c"
seed = 3
face = false

[face]
camera = "clip.avi"
mirror = true
mapping = "look"
ease_out = 2.5

[face.filter]
beta = 0.5

[face.filter.yaw]
min_cutoff = 0.3

[[face.mappings.look]]
feature = "yaw"
direction = 1
gain = 1.5
dead_zone = 0.1
curve = 2
clamp = [-1, 2]

[[face.mappings.look]]
feature = "mouth_open"
scenes = ["a", "b"]

[[face.mappings.nod]]
feature = "pitch"
principal = 2
clamp = 0.5

[[face.mappings.nod]]
feature = "smile"
param = "grade.saturation"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def test_face_section_reads_into_a_spec(tmp_path):
    show = load_show(write(tmp_path, SHOW))
    f = show.face
    assert f.camera == tmp_path / "clip.avi" and f.mirror and f.ease_out == 2.5
    assert f.mapping == "look" and set(f.mappings) == {"look", "nod"}
    assert f.mappings["look"][0] == FaceMapping("yaw", "direction", 1, 1.5, 0.1, 2.0, (-1.0, 2.0))
    assert f.mappings["look"][1].ref == ("a", "b")
    assert f.mappings["nod"][0].clamp == (-0.5, 0.5) and f.mappings["nod"][0].ref == 2
    assert f.filters["yaw"].min_cutoff == 0.3 and f.filters["yaw"].beta == 0.5
    assert f.filters["smile"].min_cutoff == 1.0 and f.filters["smile"].beta == 0.5
    assert [s.face for s in show.scenes] == [None, "nod", OFF]
    assert 'face = "nod"' in scene_to_toml(show.scenes[1])
    assert "face = false" in scene_to_toml(show.scenes[2])
    plain = SHOW.split("[face]")[0].replace('face = "nod"\n', "").replace("face = false\n", "")
    assert load_show(write(tmp_path, plain)).face is None


@pytest.mark.parametrize(
    "change, expected",
    [
        ("mirror = true", "face.mirror (line 20): expected bool"),
        ("ease_out = 2.5", "face.eas_out"),
        ('feature = "yaw"', "expected one of 'yaw'"),
        ("direction = 1", "give exactly one target"),
        ('scenes = ["a", "b"]', "expected two different scene names"),
        ('face = "nod"', "scenes[1].face (line 11): no mapping set 'nodd'"),
        ("clamp = [-1, 2]", "face.mappings.look[0].clamp (line 36)"),
        ('camera = "clip.avi"', "face.camera (line 19): expected a device number"),
        ("min_cutoff = 0.3", "face.filter.yaw.min_cutof"),
        ("curve = 2", "face.mappings.look[0].curve (line 35): expected number in [0.05, 20]"),
    ],
)
def test_problems_name_key_and_line(tmp_path, change, expected):
    broken = {
        "mirror = true": 'mirror = "yes"',
        "ease_out = 2.5": "eas_out = 2.5",
        'feature = "yaw"': 'feature = "yawn"',
        "direction = 1": 'direction = 1\nparam = "grade.contrast"',
        'scenes = ["a", "b"]': 'scenes = ["a", "zz"]',
        'face = "nod"': 'face = "nodd"',
        "clamp = [-1, 2]": "clamp = [2, -1]",
        'camera = "clip.avi"': "camera = -1",
        "min_cutoff = 0.3": "min_cutof = 0.3",
        "curve = 2": "curve = 0",
    }[change]
    with pytest.raises(ShowError) as e:
        load_show(write(tmp_path, SHOW.replace(change, broken, 1)))
    assert expected in str(e.value), str(e.value)


def test_scene_face_without_a_face_section(tmp_path):
    text = SHOW.split("[face]")[0]
    with pytest.raises(ShowError, match="the show has no \\[face\\] section"):
        load_show(write(tmp_path, text))


def test_check_finds_missing_camera_directions_and_encoder(tmp_path):
    cfg = DCGANConfig(z_dim=8, widths=(16, 8))
    torch.manual_seed(0)
    save_checkpoint(
        tmp_path / "m.pt",
        "dcgan",
        cfg,
        {"G": Generator(cfg)},
        directions={"pc1": torch.ones(8), "smile": torch.ones(8)},
    )
    text = SHOW.replace("[shaders]", "").replace("face = false", 'params = { "video.mix" = 0.5 }')
    text = text.replace("[models.m]", '[shaders]\nchain = ["grade"]\n\n[models.m]')
    show = load_show(write(tmp_path, text))
    problems = "\n".join(check_face(show))
    assert "face.camera: no such file" in problems
    assert "principal direction 2: m.pt has 1" in problems  # only pc1
    assert "scenes[2]: video mode (video.mix > 0) needs a VAE-GAN checkpoint" in problems
    assert "face.mappings.look" not in problems  # direction 1 and scenes a→b resolve

    cv2.imwrite(str(tmp_path / "clip.png"), base())
    fixed = text.replace("clip.avi", "clip.png").replace("principal = 2", 'direction = "smile"')
    fixed = fixed.replace('"grade.saturation"', '"grade.nope"')
    show = load_show(write(tmp_path, fixed))
    problems = "\n".join(check_face(show))
    assert "face.camera" not in problems and "principal" not in problems
    assert "face.mappings.nod[1].param: no parameter 'grade.nope'" in problems
    assert stage_main(["check", str(tmp_path / "show.toml")]) == 1


def test_principal_names_are_ordered_by_number():
    assert principal_names(["smile", "pc10", "pc2", "PC_1", "principal3"]) == [
        "PC_1",
        "pc2",
        "principal3",
        "pc10",
    ]


def test_the_readme_and_show_toml_face_examples_parse(tmp_path):
    root = Path(__file__).resolve().parents[3]
    readme = (root / "README.md").read_text()
    section = readme.split("## The performer's face")[1]
    example = section.split("```toml\n")[1].split("```")[0]
    head = '[models.m]\ncheckpoint = "m.pt"\n[[scenes]]\nname = "calm"\n'
    face = load_show(write(tmp_path, head + example)).face
    assert face is not None and face.mappings
    face = load_show(root / "show.toml").face  # the default show's face, live
    assert face is not None and face.fallback is True and face.mappings["look"]
