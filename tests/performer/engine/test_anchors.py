"""Scenes anchored on a picture: the show's `image` key, the encoder's code as the scene's anchor
(the same code the live-video path computes), and the problems `stage check` names — a model
without an encoder, a file that is not a picture — while a show that plays anyway goes on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from models.vaegan import Decoder, Encoder, VAEGANConfig
from performer.check import check_show
from performer.core.control import Controller
from performer.engine.anchors import anchor_scenes, encode_picture, read_picture
from performer.engine.encoder_mix import to_input
from performer.engine.worker import open_model
from performer.show import ShowError, load_show

ASSETS = Path(__file__).resolve().parents[3] / "performer" / "assets" / "anchors"


def models(tmp_path: Path) -> tuple[Path, Path]:
    cfg = VAEGANConfig(z_dim=16, image_size=32, ch=8, max_ch=16)
    torch.manual_seed(0)
    vae = tmp_path / "vae.pt"
    save_checkpoint(vae, "vaegan", cfg, {"G": Decoder(cfg).eval(), "E": Encoder(cfg).eval()})
    dc = DCGANConfig(z_dim=8, widths=(16, 8))
    dcgan = tmp_path / "dcgan.pt"
    save_checkpoint(dcgan, "dcgan", dc, {"G": Generator(dc).eval()})
    return vae, dcgan


def show_text(vae: Path, dcgan: Path, scenes: str) -> str:
    return f"""
[models.vae]
checkpoint = "{vae}"
[models.photos]
checkpoint = "{dcgan}"
{scenes}
"""


def show_with(tmp_path: Path, scenes: str) -> tuple[Path, Path, Path]:
    """The two models, a picture me.png and show.toml with `scenes`: (vae, dcgan, show)."""
    vae, dcgan = models(tmp_path)
    write_picture(tmp_path / "me.png")
    (tmp_path / "show.toml").write_text(show_text(vae, dcgan, scenes))
    return vae, dcgan, tmp_path / "show.toml"


def write_picture(path: Path, size: tuple[int, int] = (40, 60)) -> Path:
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], -1).astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def test_a_picture_is_centre_cropped_square(tmp_path: Path):
    picture = read_picture(write_picture(tmp_path / "wide.png", (40, 60)))
    assert picture.shape == (40, 40, 3)
    assert picture[0, 0, 0] == 10 * 255 // 60  # the left 10 columns are cut away
    assert picture[0, 0, 2] == 90  # RGB, not OpenCV's BGR


def test_an_image_scene_starts_from_the_encoders_code_of_its_picture(tmp_path: Path):
    scenes = '[[scenes]]\nname = "me"\nmodel = "vae"\nimage = "me.png"\n'
    scenes += '[[scenes]]\nname = "seed"\nmodel = "vae"\nseed = 3\n'
    vae, dcgan, path = show_with(tmp_path, scenes)
    show = load_show(path)
    assert show.scenes[0].image == (tmp_path / "me.png").resolve() and show.scenes[0].z is None
    loaded = {"vae": open_model(vae), "photos": open_model(dcgan)}
    anchored, problems = anchor_scenes(show, loaded)
    assert problems == []
    E = loaded["vae"].parts["E"]
    with torch.no_grad():  # what live video computes for the same picture
        x = to_input(read_picture(tmp_path / "me.png"), 32, torch.device("cpu"), torch.float32)
        mu = E(x)[0].reshape(-1)
    assert np.allclose(anchored.scenes[0].z, mu.numpy(), atol=1e-6)
    assert anchored.scenes[1] == show.scenes[1]  # a seed scene is left as it is
    c = Controller(anchored, {"vae": 16, "photos": 8})
    assert np.allclose(c.latent.target.anchor, mu.numpy(), atol=1e-6)
    assert encode_picture(loaded["vae"], tmp_path / "me.png") == anchored.scenes[0].z


def test_pictures_that_cannot_anchor_are_named_and_the_show_goes_on(tmp_path: Path):
    (tmp_path / "notes.png").write_text("not a picture")
    scenes = '[[scenes]]\nname = "junk"\nmodel = "vae"\nimage = "notes.png"\n'
    scenes += '[[scenes]]\nname = "gan"\nmodel = "photos"\nimage = "me.png"\n'
    vae, dcgan, path = show_with(tmp_path, scenes)
    show = load_show(path)
    problems = check_show(show)
    assert any(p.startswith("scenes[0].image (junk): cannot read") for p in problems), problems
    assert any(
        p.startswith("scenes[1].image (gan): me.png: model dcgan.pt (dcgan) has no encoder")
        for p in problems
    ), problems
    loaded = {"vae": open_model(vae), "photos": open_model(dcgan)}
    anchored, _ = anchor_scenes(show, loaded)
    c = Controller(anchored, {"vae": 16, "photos": 8})  # falls back to the scene's number
    assert c.latent.target.anchor.shape == (16,)


def test_image_key_problems(tmp_path: Path):
    scenes = '[[scenes]]\nname = "a"\nmodel = "vae"\nimage = "gone.png"\n'
    scenes += '[[scenes]]\nname = "b"\nmodel = "vae"\nimage = "me.png"\nseed = 2\n'
    path = show_with(tmp_path, scenes)[2]
    with pytest.raises(ShowError) as e:
        load_show(path)
    text = str(e.value)
    assert "scenes[0].image" in text and "no picture at" in text and "gone.png" in text
    assert "scenes[1]" in text and "give the anchor as one of `seed`, `z` or `image`" in text


def test_the_shipped_pictures_anchor_the_shipped_vaegan():
    root = ASSETS.parents[2]
    model = open_model(root / "models" / "checkpoints" / "vaegan-photos.pt")
    z = np.asarray(encode_picture(model, ASSETS / "colorwheel.jpg"))
    assert z.shape == (model.generator.z_dim,) and np.isfinite(z).all()
