"""Our StyleGAN2 generator: equal to NVlabs' on the fixtures (ψ = 1 and 0.7, the ws, a class),
imported into an ordinary checkpoint that loads with weights_only; its ops, architectures,
noise modes, truncation and style mixing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint
from models.registry import KINDS, ConfigError
from models.stylegan.convert import import_network
from models.stylegan.reader import NetworkPickleError, read_network_pickle
from models.stylegan.stylegan2 import (
    Generator,
    StyleGAN2Config,
    mix,
    setup_filter,
    upfirdn2d,
    upsample2d,
)
from tests.models.test_stylegan_reader import (  # noqa: F401 (nvlabs_modules: a pytest fixture)
    TINY_KWARGS,
    fixture,
    nvlabs_modules,
    synthetic_pickle,
)

TOLERANCE = 1e-4
SG2 = ["sg2-tiny-32", "sg2-cond-64"]


def expected(name: str) -> dict[str, torch.Tensor]:
    with np.load(fixture(f"{name}.expected.npz")) as data:
        return {key: torch.from_numpy(np.asarray(data[key])) for key in data.files}


def imported(name: str, **playback) -> Generator:
    net = read_network_pickle(fixture(f"{name}.pkl"))["G_ema"]
    G = Generator(StyleGAN2Config.from_init_kwargs(net.init_kwargs, **playback))
    G.load_state_dict(net.state, strict=True)
    return G.eval().requires_grad_(False)


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return float((a - b).abs().max())


def test_the_skip_fixture_equals_the_original_at_psi_1_and_07():
    G, want = imported("sg2-tiny-32"), expected("sg2-tiny-32")
    psi = float(want["psi"])
    assert max_error(G(want["z"], truncation_psi=1), want["img_psi1"]) < TOLERANCE
    assert max_error(G.mapping(want["z"], truncation_psi=psi), want["ws_psi07"]) < TOLERANCE
    assert max_error(G(want["z"], truncation_psi=psi), want["img_psi07"]) < TOLERANCE
    assert (G.z_dim, G.w_dim, G.num_ws, G.c_dim, G.img_resolution) == (32, 32, 8, 0, 32)


def test_the_conditional_fp16_orig_fixture_equals_the_original_with_its_class():
    G, want = imported("sg2-cond-64", class_index=1), expected("sg2-cond-64")
    assert int(want["c"][0].argmax()) == 1
    assert max_error(G(want["z"], want["c"], truncation_psi=1), want["img_psi1"]) < TOLERANCE
    assert max_error(G(want["z"]), want["img_psi1"]) < TOLERANCE  # the config's class, ψ = 1
    other = G(want["z"], torch.eye(4)[[2, 2, 2, 2]])
    assert max_error(other, want["img_psi1"]) > 1e-2  # the class matters


@pytest.mark.parametrize("name", SG2)
def test_an_imported_checkpoint_loads_weights_only_and_plays_its_psi(name, tmp_path):
    want = expected(name)
    conditional = "c" in want
    psi = 1.0 if conditional else float(want["psi"])
    pkl = fixture(f"{name}.pkl")
    out = import_network(
        pkl, tmp_path / f"{name}.pt", psi=psi, class_index=1 if conditional else None
    )
    loaded = load_checkpoint(out)  # torch.load(weights_only=True)
    assert loaded.kind == "stylegan2" and set(loaded.parts) == {"G"}
    assert loaded.train["truncation_psi"] == psi and loaded.train["source"] == pkl.name
    image = loaded.generator(want["z"])
    size = 64 if conditional else 32
    assert image.shape == (4, 3, size, size)
    key = "img_psi1" if conditional else "img_psi07"
    assert max_error(image, want[key]) < TOLERANCE


def test_import_refuses_what_the_stage_cannot_play(tmp_path):
    cond, small = fixture("sg2-cond-64.pkl"), fixture("sg2-tiny-32.pkl")
    out = tmp_path / "x.pt"
    cases = [
        (cond, {}, r"a conditional network \(4 classes\): choose one, class 0…3"),
        (cond, {"class_index": 7}, r"no class 7: its classes are 0…3"),
        (small, {"class_index": 0}, r"no class 0: it is unconditional"),
        (small, {"which": "D"}, r"D is a Discriminator \(training\.networks_stylegan2\)"),
        (small, {"which": "Gs"}, r"no 'Gs' network in it \(it has D, G, G_ema\)"),
        (small, {"psi": float("nan")}, r"truncation ψ must be a finite number"),
    ]
    for pkl, options, message in cases:
        with pytest.raises(NetworkPickleError, match=rf"{pkl.name}: {message}"):
            import_network(pkl, out, **options)
    assert not out.exists()


def test_a_synthetic_pickle_imports_to_the_same_generator(tmp_path, nvlabs_modules):  # noqa: F811
    marker = tmp_path / "ran"
    G = synthetic_pickle(tmp_path / "net.pkl", nvlabs_modules, marker)
    out = import_network(tmp_path / "net.pkl", tmp_path / "net.pt", psi=0.5)
    assert not marker.exists()
    loaded = load_checkpoint(out)
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), G(z, truncation_psi=0.5))
        assert loaded.generator(z).shape == (3, 3, 8, 8)


def test_an_unknown_option_or_an_absurd_size_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unsupported synthesis option 'magic' = 1"):
        StyleGAN2Config.from_init_kwargs({**TINY_KWARGS, "magic": 1})
    with pytest.raises(ConfigError, match=r"config\.channel_max = 1000000 is out of range"):
        StyleGAN2Config.from_init_kwargs({**TINY_KWARGS, "channel_max": 10**6})
    with pytest.raises(ValueError, match=r"needs class_index 0…3"):
        StyleGAN2Config.from_init_kwargs({**TINY_KWARGS, "c_dim": 4})
    ok = {**TINY_KWARGS, "fused_modconv_default": "inference_only", "fp16_channels_last": False}
    assert StyleGAN2Config.from_init_kwargs(ok).channel_max == 8
    assert "stylegan2" in KINDS


# ---------------------------------------------------------------- the parts, without fixtures


def tiny(**changes) -> Generator:
    torch.manual_seed(0)
    config = StyleGAN2Config(
        **{"z_dim": 8, "w_dim": 8, "img_resolution": 16, "channel_base": 128, "channel_max": 16}
        | changes
    )
    G = Generator(config).eval().requires_grad_(False)
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.fill_(0.5)
    G.mapping.w_avg.normal_()
    return G


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_architectures_and_their_nvlabs_names(architecture):
    G = tiny(architecture=architecture)
    z = torch.randn(2, 8)
    image = G(z)
    assert image.shape == (2, 3, 16, 16) and bool(torch.isfinite(image).all())
    assert G.num_ws == 6 and G.mapping(z).shape == (2, 6, 8)
    names = set(G.state_dict())
    assert {"synthesis.b4.const", "synthesis.b8.conv0.noise_const", "mapping.w_avg"} <= names
    assert ("synthesis.b8.torgb.weight" in names) == (architecture == "skip")
    assert "synthesis.b16.torgb.weight" in names
    assert ("synthesis.b8.skip.weight" in names) == (architecture == "resnet")
    assert "synthesis.b8.skip.bias" not in names


def test_mix_is_a_hand_built_w_mix():
    G = tiny()
    ws_a, ws_b = G.mapping(torch.randn(2, 8)), G.mapping(torch.randn(2, 8))
    hand = ws_a.clone()
    hand[:, 4:] = ws_b[:, 4:]
    mixed = mix(ws_a, ws_b, 4)
    assert torch.equal(mixed, hand)
    assert torch.equal(G.synthesis(mixed), G.synthesis(hand))
    assert torch.equal(mix(ws_a, ws_b, 0), ws_b) and torch.equal(mix(ws_a, ws_b, 6), ws_a)


def test_truncation_pulls_toward_w_avg_up_to_the_cutoff():
    G = tiny()
    z = torch.randn(3, 8)
    w_avg = G.mapping.w_avg.expand(3, 6, 8)
    assert torch.allclose(G.mapping(z, truncation_psi=0), w_avg)
    cut = G.mapping(z, truncation_psi=0, truncation_cutoff=2)
    assert torch.allclose(cut[:, :2], w_avg[:, :2])
    assert torch.equal(cut[:, 2:], G.mapping(z, truncation_psi=1)[:, 2:])
    half = tiny(truncation_psi=0.5)  # the config's ψ is generator(z)'s
    assert torch.equal(half(z), half(z, truncation_psi=0.5))
    assert not torch.equal(half(z), half(z, truncation_psi=1))


def test_noise_modes():
    G = tiny()
    z = torch.randn(2, 8)
    assert torch.equal(G(z), G(z, noise_mode="const"))  # the stage's default: repeatable
    assert not torch.equal(G(z, noise_mode="none"), G(z))
    torch.manual_seed(1)
    a = G(z, noise_mode="random")
    assert not torch.equal(a, G(z, noise_mode="random"))
    torch.manual_seed(1)
    assert torch.equal(a, G(z, noise_mode="random"))
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="loud")


def test_upfirdn2d_convolves_with_the_filter_and_keeps_a_constant():
    f = setup_filter([1, 2])  # asymmetric: convolution, not correlation
    impulse = torch.zeros(1, 1, 3, 3)
    impulse[0, 0, 1, 1] = 1
    out = upfirdn2d(impulse, f, padding=[1, 0, 1, 0])
    assert torch.allclose(out[0, 0, 1:, 1:], f) and float(out.sum()) == pytest.approx(1)
    ones = torch.ones(1, 2, 4, 4)
    up = upsample2d(ones, setup_filter([1, 3, 3, 1]))  # gain 4 for the inserted zeros
    assert up.shape == (1, 2, 8, 8)
    assert torch.allclose(up[:, :, 2:-2, 2:-2], torch.ones(1, 2, 4, 4))


def test_the_generator_follows_its_dtype_and_memory_format():
    G = tiny(architecture="resnet")
    z = torch.randn(2, 8)
    reference = G(z)
    last = G.to(memory_format=torch.channels_last)(z)  # the engine's CPU layout
    assert torch.allclose(last, reference, atol=1e-5)
    half = tiny(architecture="resnet").half()(z.half())  # the engine's CUDA dtype
    assert half.dtype == torch.float16
    assert float((half.float() - reference).abs().max()) < 2e-2 * float(reference.abs().max())
