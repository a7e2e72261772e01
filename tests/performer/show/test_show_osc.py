"""The show file's [osc] section: defaults, the network opt-in, allow-list, user addresses."""

from pathlib import Path

import pytest

from performer.cli import main as stage_main
from performer.show import ShowError, load_show
from performer.show.osc import OscMapping, fade_of

BASE = """
[models.m]
checkpoint = "m.pt"
[[scenes]]
name = "a"
"""


def show_with(tmp_path: Path, osc: str):
    (tmp_path / "show.toml").write_text(BASE + osc)
    return load_show(tmp_path / "show.toml")


def problems(tmp_path: Path, osc: str) -> str:
    with pytest.raises(ShowError) as e:
        show_with(tmp_path, osc)
    return str(e.value)


def test_defaults_listen_on_loopback_and_feed_back_to_9001(tmp_path):
    spec = show_with(tmp_path, "").osc
    assert (spec.enabled, spec.host, spec.port, spec.network) == (True, "127.0.0.1", 9000, False)
    assert (spec.feedback_host, spec.feedback_port, spec.allow) == ("127.0.0.1", 9001, ())


def test_the_rate_limit_defaults_allow_thousands_a_second_and_can_be_set(tmp_path):
    spec = show_with(tmp_path, "").osc
    assert (spec.rate, spec.burst) == (10_000.0, 2_000)
    spec = show_with(tmp_path, "[osc]\nrate = 500\nburst = 50\n").osc
    assert (spec.rate, spec.burst) == (500.0, 50)
    assert show_with(tmp_path, "[osc]\nrate = 0\n").osc.rate == 0.0  # no limit
    text = problems(tmp_path, "[osc]\nrate = -1\nburst = 0\n")
    assert "osc.rate (line 7): expected number in [0, 100000], got integer -1" in text
    assert "osc.burst (line 8): expected int in [1, 100000], got integer 0" in text


def test_listening_beyond_this_machine_is_an_explicit_choice(tmp_path):
    text = problems(tmp_path, '[osc]\nhost = "0.0.0.0"\n')
    assert "osc.host (line 7): 0.0.0.0 listens beyond this machine" in text
    assert "osc.network = true" in text
    spec = show_with(tmp_path, '[osc]\nhost = "0.0.0.0"\nnetwork = true\nallow = ["10.0.0.5"]\n')
    assert spec.osc.host == "0.0.0.0" and spec.osc.allow == ("10.0.0.5",)
    assert show_with(tmp_path, '[osc]\nhost = "::1"\n').osc.host == "::1"  # loopback: fine


def test_osc_section_problems_name_key_and_line(tmp_path):
    text = problems(
        tmp_path,
        """[osc]
port = 70000
allow = ["somewhere"]
colour = 1
[[osc.map]]
address = "/live/*"
target = "/stage/tempo"
[[osc.map]]
address = "/stage/mine"
target = "/stage/tempo"
[[osc.map]]
address = "/ok"
target = "tempo"
curve = "wobbly"
[[osc.map]]
address = "/ok2"
target = "/stage/tempo"
to = [0, 200]
curve = "exponential"
""",
    )
    assert "osc.port (line 7): expected int in [0, 65535], got integer 70000" in text
    assert "osc.allow[0]" in text and "osc.colour" in text and "unknown key" in text
    assert "osc.map[0].address" in text and "'/live/*'" in text
    assert "osc.map[1].address" in text and "stage's own address space" in text
    assert "osc.map[2].target" in text and "osc.map[2].curve" in text
    assert "osc.map[3].to" in text and "exponential" in text


def test_mappings_read_with_defaults(tmp_path):
    spec = show_with(
        tmp_path,
        """[[osc.map]]
address = "/live/fader1"
target = "/stage/param/grade.saturation"
[[osc.map]]
address = "/max/ember"
target = "/stage/scene"
args = ["a", "8b"]
range = [0, 127]
to = [3, 0]
curve = "smooth"
""",
    )
    assert spec.osc.maps == (
        OscMapping("/live/fader1", "/stage/param/grade.saturation"),
        OscMapping("/max/ember", "/stage/scene", ("a", "8b"), (0.0, 127.0), (3.0, 0.0), "smooth"),
    )


def test_stage_check_reports_mappings_to_nothing(tmp_path, capsys):
    from models.seed import make_seed_checkpoint  # noqa: F401 - the default show's checkpoint

    root = Path(__file__).resolve().parents[3]
    text = (
        (root / "show.toml")
        .read_text()
        .replace('checkpoint = "models/checkpoints/', f'checkpoint = "{root}/models/checkpoints/')
    )
    text += (
        '\n[[osc.map]]\naddress = "/live/x"\ntarget = "/stage/param/grade.nothing"\n'
        '[[osc.map]]\naddress = "/live/y"\ntarget = "/stage/param/latent.speed"\n'
    )
    text = text.replace(
        '"trails.decay" = 0.0',
        '"trails.decay" = 0.0\n"latent.speed" = 2.0\n"latent.amplitude" = 9.0',
    )
    (tmp_path / "show.toml").write_text(text)
    assert stage_main(["check", str(tmp_path / "show.toml")]) == 1
    err = capsys.readouterr().err
    assert "osc.map[0] (/live/x): no stage address /stage/param/grade.nothing" in err
    assert "/live/y" not in err and "latent.speed" not in err  # an engine parameter: fine
    assert "shaders.params.latent.amplitude: expected a value in [0, 4], got 9" in err


@pytest.mark.parametrize(
    "value,fade",
    [
        (2, 2.0),
        (2.5, 2.5),
        ("3", 3.0),
        ("3s", 3.0),
        ("8b", "8b"),
        ("4 beats", "4b"),
        (-1, 0.0),
        ("soon", None),
        (True, None),
        (float("nan"), None),
        ("1" * 8000 + "x", None),  # read in no time (a regex on it took a second)
        ("1.2.3", None),
        (".5", 0.5),
        ("5.", None),
    ],
)
def test_fade_arguments(value, fade):
    assert fade_of(value) == fade
