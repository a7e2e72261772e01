"""Checkpoints: save → load reproduces the generator exactly; bad files give clear errors."""

from pathlib import Path

import pytest
import torch

from models.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from models.dcgan import DCGANConfig, Discriminator, Generator
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
    a = load_checkpoint(make_seed_checkpoint(tmp_path / "a" / "seed-dcgan-64.pt")).generator
    b = load_checkpoint(make_seed_checkpoint(tmp_path / "b" / "seed-dcgan-64.pt")).generator
    z = torch.randn(2, 100)
    out = a(z)
    assert torch.equal(out, b(z))
    assert out.std() > 0.1  # batch-norm calibration gives contrast, not a flat grey
