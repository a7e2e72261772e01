"""The show file's audio mapping sets as scenes choose them: each scene's `audio` key read, set
names checked with key path and line, and the key round-tripped through the presets file."""

from pathlib import Path

import pytest

from performer.show import ShowError, load_show, scene_to_toml
from performer.show.audio import OFF

SHOW = """\
[models.m]
checkpoint = "m.pt"

[[scenes]]
name = "a"
seed = 1

[[scenes]]
name = "b"
seed = 2
audio = "drums"

[[scenes]]
name = "c"
seed = 3
audio = false

[audio]
source = "Scarlett"

[[audio.map]]
feature = "level"
target = "/stage/param/grade.saturation"

[[audio.mappings.drums]]
feature = "onset"
target = "/stage/cue/next"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def test_scenes_choose_their_audio_set(tmp_path):
    show = load_show(write(tmp_path, SHOW))
    assert [s.audio for s in show.scenes] == [None, "drums", OFF]
    sets = [show.audio.set_for(s.audio) for s in show.scenes]
    assert sets[0] == show.audio.maps and sets[1][0].feature == "onset" and sets[2] == ()
    assert 'audio = "drums"' in scene_to_toml(show.scenes[1])
    assert "audio = false" in scene_to_toml(show.scenes[2])
    assert "audio" not in scene_to_toml(show.scenes[0])


@pytest.mark.parametrize(
    "change, broken, expected",
    [
        ('audio = "drums"', 'audio = "drum"', "scenes[1].audio (line 11): no audio mapping set"),
        ('audio = "drums"', "audio = 3", "scenes[1].audio (line 11): expected an audio mapping"),
        ('source = "Scarlett"', 'source = "Scarlett"\nmapping = "x"', "audio.mapping (line 20)"),
    ],
)
def test_scene_audio_problems_name_key_and_line(tmp_path, change, broken, expected):
    with pytest.raises(ShowError) as e:
        load_show(write(tmp_path, SHOW.replace(change, broken, 1)))
    assert expected in str(e.value), str(e.value)


def test_scene_audio_without_an_audio_section(tmp_path):
    with pytest.raises(ShowError, match="scenes\\[1\\].audio .*no \\[audio\\] section"):
        load_show(write(tmp_path, SHOW.split("[audio]")[0]))
