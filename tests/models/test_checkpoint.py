"""Checkpoints: save → load reproduces the generator exactly; bad files give clear errors;
an untrusted config asking for absurd sizes is refused by name before any network is built."""

import dataclasses
import re
from pathlib import Path

import pytest
import torch

from models.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from models.dcgan import DCGANConfig, Discriminator, Generator
from models.registry import (
    KINDS,
    LIMITS,
    MAX_PARAMETERS,
    check_value,
    config_to_dict,
    parameter_count,
)
from models.seed import make_seed_checkpoint

TINY = DCGANConfig(z_dim=8, widths=(16, 8))


def test_generator_shapes_and_range():
    G = Generator(TINY).eval()
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 3, 16, 16)
    assert x.min() >= -1 and x.max() <= 1
    big = DCGANConfig(widths=(1024, 512, 256, 128))
    assert big.image_size == 64  # the published 64 px generator: 1024-512-256-128-3
    assert Discriminator(TINY)(x).shape == (3,)


def test_save_load_reproduces_output(tmp_path: Path):
    torch.manual_seed(0)
    G = Generator(TINY).eval()
    z = torch.randn(4, 8)
    path = save_checkpoint(
        tmp_path / "g.pt", "dcgan", TINY, {"G": G}, step=7, directions={"warm": torch.ones(8)}
    )
    loaded = load_checkpoint(path)
    assert loaded.kind == "dcgan" and loaded.config == TINY and loaded.step == 7
    assert torch.equal(loaded.generator(z), G(z))
    assert torch.equal(loaded.directions["warm"], torch.ones(8))
    assert not loaded.generator.training
    assert not list(tmp_path.glob(".*tmp"))  # the temp file was renamed away


def test_missing_file_names_it(tmp_path: Path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint file not found"):
        read_checkpoint(tmp_path / "nope.pt")


def test_truncated_file_is_a_clear_error(tmp_path: Path):
    path = save_checkpoint(tmp_path / "g.pt", "dcgan", TINY, {"G": Generator(TINY)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"g\.pt: not a readable checkpoint"):
        load_checkpoint(path)


def test_foreign_torch_file(tmp_path: Path):
    path = tmp_path / "state_dict.pt"
    torch.save(Generator(TINY).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a latent-stage checkpoint"):
        load_checkpoint(path)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt"):
        load_checkpoint(text)


def test_unknown_kind_and_missing_generator(tmp_path: Path):
    path = save_checkpoint(tmp_path / "g.pt", "dcgan", TINY, {"D": Discriminator(TINY)})
    with pytest.raises(CheckpointError, match="no 'G' network"):
        load_checkpoint(path)
    data = torch.load(path, weights_only=True)
    data["kind"] = "stylegan9"
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="unknown model kind 'stylegan9'"):
        load_checkpoint(path)


def test_weights_that_do_not_fit(tmp_path: Path):
    path = save_checkpoint(tmp_path / "g.pt", "dcgan", TINY, {"G": Generator(TINY)})
    data = torch.load(path, weights_only=True)
    data["config"]["widths"] = [32, 8]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_seed_checkpoint_is_deterministic(tmp_path: Path):
    a = load_checkpoint(make_seed_checkpoint(tmp_path / "a" / "seed-fields-64px.pt")).generator
    b = load_checkpoint(make_seed_checkpoint(tmp_path / "b" / "seed-fields-64px.pt")).generator
    z = torch.randn(2, 100)
    out = a(z)
    assert torch.equal(out, b(z))
    assert out.std() > 0.1  # batch-norm calibration gives contrast, not a flat grey


def handcrafted(path: Path, kind: str, config: dict, parts: tuple[str, ...] = ("G",)) -> Path:
    """A checkpoint written by hand (as an attacker would): any config, empty weights."""
    state = {name: {} for name in parts}
    torch.save({"format": 1, "kind": kind, "config": config, "state": state}, path)
    return path


def absurd_cases() -> list[tuple[str, str]]:
    """(kind, key) for every bounded size field of every model kind in the registry."""
    return [
        (name, f.name)
        for name, kind in sorted(KINDS.items())
        for f in dataclasses.fields(kind.config)
        if f.name in LIMITS
    ]


@pytest.mark.parametrize(("kind", "key"), absurd_cases())
def test_an_absurd_config_is_refused_by_name_before_anything_is_built(tmp_path, kind, key):
    config = config_to_dict(KINDS[kind].config())
    absurd = 10**9
    config[key] = [absurd] * len(config[key]) if isinstance(config[key], list) else absurd
    path = handcrafted(tmp_path / "x.pt", kind, config, tuple(KINDS[kind].parts))
    name = f"{key}[0]" if isinstance(config[key], list) else key
    high = LIMITS[key][1]
    message = rf"x\.pt: config\.{re.escape(name)} = {absurd} is out of range \(at most {high}\)"
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_configs_too_long_or_not_numbers_are_refused_by_name(tmp_path):
    base = config_to_dict(DCGANConfig())
    cases = [
        ({"widths": [64] * 1000}, r"config\.widths has 1000 entries \(at most 12\)"),
        ({"widths": [64, -3]}, r"config\.widths\[1\] = -3 is out of range \(at least 1\)"),
        ({"z_dim": "100"}, r"config\.z_dim = '100' is not a whole number"),
        ({"z_dim": 100.0}, r"config\.z_dim = 100\.0 is not a whole number"),
        ({"z_dim": True}, r"config\.z_dim = True is not a whole number"),
        ({"slope": float("nan")}, r"config\.slope = nan is not a finite number"),
        ({"z_dim": 10**400}, r"config\.z_dim = 1000000000000000000000000000000000000\.\.\."),
    ]
    for change, message in cases:
        path = handcrafted(tmp_path / "x.pt", "dcgan", {**base, **change})
        with pytest.raises(CheckpointError, match=r"x\.pt: " + message):
            load_checkpoint(path)


def test_a_config_whose_networks_would_be_too_big_is_refused_before_building(tmp_path):
    wide = config_to_dict(DCGANConfig(widths=(4096,) * 12))  # every key in bounds: 3·10^9
    path = handcrafted(tmp_path / "x.pt", "dcgan", wide)
    count = parameter_count("dcgan", DCGANConfig(widths=(4096,) * 12), ["G"])
    assert count > MAX_PARAMETERS
    with pytest.raises(CheckpointError, match=rf"x\.pt: its config would build {count:,} param"):
        load_checkpoint(path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_parameter_count_on_the_meta_device_is_the_real_count(kind):
    spec = KINDS[kind]
    config = spec.config()
    for name, part in spec.parts.items():
        net = part(config)
        real = sum(t.numel() for t in (*net.parameters(), *net.buffers()))
        assert parameter_count(kind, config, [name]) == real


def test_every_size_field_of_every_config_is_bounded():
    for kind in KINDS.values():
        for f in dataclasses.fields(kind.config):
            default = getattr(kind.config(), f.name)
            sized = isinstance(default, (int, tuple)) and not isinstance(default, bool)
            assert not sized or f.name in LIMITS, f"{kind.name}: config.{f.name} has no bound"
        for key, value in config_to_dict(kind.config()).items():
            check_value(key, value)  # the defaults are within bounds
