"""Our StyleGAN3 generator: NVlabs' own pickle (read as data) loaded into it draws the original's
images; tiny T and R configs build, run and are deterministic; absurd configs are refused by
name; the filter design is scipy's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from models.stylegan.stylegan3 import (
    KIND,
    LIMITS,
    Generator,
    StyleGAN3Config,
    build,
    lowpass_filter,
    upfirdn2d,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "stylegan"
PICKLE = FIXTURES / "sg3t-tiny-32.pkl"
EXPECTED = FIXTURES / "sg3t-tiny-32.expected.npz"

TINY_R = StyleGAN3Config(
    z_dim=16,
    w_dim=16,
    img_resolution=16,
    channel_base=512,
    channel_max=32,
    num_layers=4,
    num_critical=2,
    conv_kernel=1,
    use_radial_filters=True,
)


@pytest.fixture(scope="module")
def imported():
    """(G with the fixture's G_ema weights, the pickle's G_ema data, the original's outputs)."""
    if not (PICKLE.is_file() and EXPECTED.is_file()):
        pytest.skip(f"no StyleGAN3 fixture at {FIXTURES}")
    from models.stylegan.reader import read_network_pickle

    data = read_network_pickle(PICKLE)["G_ema"]
    assert (data.module, data.class_name) == ("training.networks_stylegan3", "Generator")
    G = Generator(StyleGAN3Config.from_init_kwargs(data.init_kwargs)).eval()
    G.load_state_dict(data.state, strict=True)
    with np.load(EXPECTED) as f:
        expected = {k: f[k] for k in f.files}
    return G, data, expected


def test_the_fixture_draws_the_originals_images(imported):
    G, _, expected = imported
    z = torch.from_numpy(expected["z"])
    psi = float(expected["psi"])
    with torch.no_grad():
        img1 = G(z).numpy()
        ws = G.mapping(z, truncation_psi=psi)
        img07 = G.synthesis(ws).numpy()
        assert np.array_equal(G(z, truncation_psi=psi).numpy(), img07)
    assert img1.shape == expected["img_psi1"].shape == (4, 3, 32, 32)
    assert np.abs(ws.numpy() - expected["ws_psi07"]).max() < 1e-4
    assert np.abs(img1 - expected["img_psi1"]).max() < 1e-4
    assert np.abs(img07 - expected["img_psi07"]).max() < 1e-4
    assert np.abs(img1 - img07).max() > 1e-2  # truncation really changed the picture


def test_the_fixture_in_half_precision_and_channels_last_is_close(imported):
    G, _, expected = imported
    z = torch.from_numpy(expected["z"])
    half = Generator(G.config).eval()
    half.load_state_dict(G.state_dict())
    half = half.to(torch.float16, memory_format=torch.channels_last)
    with torch.no_grad():
        x = half(z.half())  # the w path stays float32, the convolutions run in float16
    assert x.dtype == torch.float16
    assert np.abs(x.float().numpy() - expected["img_psi1"]).max() < 1e-2


def test_the_fixture_config_designs_the_same_filters_and_layers(imported):
    G, data, _ = imported
    assert (G.z_dim, G.w_dim, G.c_dim, G.num_ws, G.img_resolution) == (32, 32, 0, 8, 32)
    fresh = Generator(G.config).state_dict()
    assert set(fresh) == set(data.state)
    for name, value in data.state.items():
        if name.endswith(("up_filter", "down_filter", "transform")):
            torch.testing.assert_close(fresh[name], value, rtol=0, atol=1e-7, msg=name)


def test_a_tiny_r_config_builds_runs_and_is_deterministic():
    torch.manual_seed(0)
    G = build(TINY_R)["G"].eval()
    torch.manual_seed(0)
    again = Generator(TINY_R).eval()
    for (name, a), b in zip(G.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    # radial (2-D) downsampling filters in the layers that are not critically sampled
    layers = [getattr(G.synthesis, n) for n in G.synthesis.layer_names]
    assert [None if x.down_filter is None else x.down_filter.ndim for x in layers] == [
        2,
        2,
        1,
        1,
        None,
    ]
    assert all(x.weight.shape[-1] == 1 for x in layers)  # conv_kernel = 1
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = G(z)
        assert torch.equal(x, G(z)) and torch.equal(x, again(z))
        torch.testing.assert_close(G(z[1:2]), x[1:2], rtol=0, atol=1e-5)  # batch-independent
    assert x.shape == (3, 3, 16, 16) and torch.isfinite(x).all() and float(x.std()) > 0


def test_a_meta_device_build_sizes_the_real_network():
    with torch.device("meta"):
        meta = Generator(TINY_R)
    real = Generator(TINY_R)
    count = [sum(t.numel() for t in (*g.parameters(), *g.buffers())) for g in (meta, real)]
    assert count[0] == count[1] > 0
    assert list(meta.state_dict()) == list(real.state_dict())


def test_truncation_pulls_toward_w_avg_up_to_the_cutoff():
    torch.manual_seed(0)
    G = Generator(TINY_R).eval()
    G.mapping.w_avg.normal_()
    z = torch.randn(2, 16)
    with torch.no_grad():
        ws = G.mapping(z)
        assert ws.shape == (2, G.num_ws, 16) and torch.equal(ws[:, 0], ws[:, -1])
        flat = G.mapping(z, truncation_psi=0)
        assert torch.allclose(flat, G.mapping.w_avg.expand_as(flat))
        cut = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
        assert torch.allclose(cut[:, :2], (ws[:, :2] + G.mapping.w_avg) / 2)
        assert torch.equal(cut[:, 2:], ws[:, 2:])


def test_the_config_says_how_g_of_z_plays():
    torch.manual_seed(0)
    G = Generator(TINY_R).eval()
    G.mapping.w_avg.normal_()
    played = Generator(dataclasses.replace(TINY_R, truncation_psi=0.5, truncation_cutoff=3))
    played.load_state_dict(G.state_dict())
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.equal(played.eval()(z), G(z, truncation_psi=0.5, truncation_cutoff=3))
        assert torch.equal(played(z, truncation_psi=1), G(z))


def test_a_conditional_generator_plays_its_class():
    with pytest.raises(ValueError, match=r"config\.class_index = 4: the network has classes 0…3"):
        dataclasses.replace(TINY_R, c_dim=4, class_index=4)
    with pytest.raises(ValueError, match=r"config\.class_index = 0: the network has no classes"):
        dataclasses.replace(TINY_R, class_index=0)
    unplayable = Generator(dataclasses.replace(TINY_R, c_dim=4))
    with pytest.raises(ValueError, match=r"a class c \(N, 4\) or config\.class_index"):
        unplayable(torch.randn(1, 16))
    G = Generator(dataclasses.replace(TINY_R, c_dim=4, class_index=2)).eval()
    assert G.mapping.embed.weight.shape == (16, 4)
    z, c = torch.randn(2, 16), torch.eye(4)[[2, 2]]
    with torch.no_grad():
        assert G(z, c).shape == (2, 3, 16, 16)
        assert torch.equal(G(z), G(z, c))
        assert not torch.equal(G(z), G(z, torch.eye(4)[[1, 1]]))
    with pytest.raises(ValueError, match=r"c must be \(N, 4\), got \(2, 3\)"):
        G(z, torch.zeros(2, 3))


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_an_absurd_config_is_refused_by_name(key):
    high = LIMITS[key][1]
    message = rf"config\.{key} = 1000000000 is out of range \(at most {high}\)"
    with pytest.raises(ValueError, match=message):
        StyleGAN3Config(**{key: 10**9})


def test_inconsistent_or_non_numeric_configs_are_refused_by_name():
    cases = [
        ({"num_layers": 4, "num_critical": 4}, r"config\.num_critical = 4 must be below"),
        ({"first_cutoff": float("nan")}, r"config\.first_cutoff = nan is out of range"),
        ({"first_cutoff": -2.0}, r"config\.first_cutoff = -2\.0 is out of range"),
        ({"last_stopband_rel": 0.5}, r"config\.last_stopband_rel = 0\.5 is out of range"),
        ({"channel_max": "512"}, r"config\.channel_max = '512' is not a whole number"),
        ({"z_dim": 8.0}, r"config\.z_dim = 8\.0 is not a whole number"),
        ({"conv_clamp": float("inf")}, r"config\.conv_clamp = inf is out of range"),
        ({"truncation_psi": 1e9}, r"config\.truncation_psi = 1000000000\.0 is out of range"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            StyleGAN3Config(**change)
    assert StyleGAN3Config(conv_clamp=None).conv_clamp is None


def test_init_kwargs_are_read_and_unknown_ones_refused():
    kwargs = {
        "z_dim": 32,
        "c_dim": 0,
        "w_dim": 32,
        "img_resolution": 32,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 3, "freeze_layers": 0},
        "channel_base": 2048,
        "conv_clamp": 256,
    }
    config = StyleGAN3Config.from_init_kwargs(kwargs, truncation_psi=0.7)
    assert (config.mapping_layers, config.channel_base, config.num_layers) == (3, 2048, 14)
    assert config.truncation_psi == 0.7
    with pytest.raises(ValueError, match=r"unsupported StyleGAN3 option 'architecture'"):
        StyleGAN3Config.from_init_kwargs({**kwargs, "architecture": "skip"})
    with pytest.raises(ValueError, match=r"unsupported mapping option 'embed_features' = 8"):
        StyleGAN3Config.from_init_kwargs({**kwargs, "mapping_kwargs": {"embed_features": 8}})
    with pytest.raises(ValueError, match=r"unknown playback option 'noise'"):
        StyleGAN3Config.from_init_kwargs(kwargs, noise="const")
    assert KIND == "stylegan3"


@pytest.mark.parametrize(
    ("numtaps", "cutoff", "width", "fs"),
    [(12, 2.0, 6.0, 32), (24, 7.5, 4.6, 64), (12, 16.0, 0.0, 64), (7, 3.3, 1.0, 16)],
)
def test_the_lowpass_filter_is_scipys_firwin(numtaps, cutoff, width, fs):
    signal = pytest.importorskip("scipy.signal")
    want = torch.as_tensor(signal.firwin(numtaps, cutoff, width=width, fs=fs), dtype=torch.float32)
    torch.testing.assert_close(lowpass_filter(numtaps, cutoff, width, fs), want, rtol=0, atol=1e-7)
    assert lowpass_filter(1, cutoff, width, fs) is None


def test_the_radial_filter_is_a_windowed_jinc():
    special = pytest.importorskip("scipy.special")
    signal = pytest.importorskip("scipy.signal")
    numtaps, cutoff, width, fs = 12, 5.0, 6.0, 64
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    want = special.j1(2 * cutoff * np.pi * r) / (np.pi * r)
    window = signal.windows.kaiser(numtaps, signal.kaiser_beta(signal.kaiser_atten(12, 6 / 32)))
    want *= np.outer(window, window)
    want = torch.as_tensor(want / want.sum(), dtype=torch.float32)
    got = lowpass_filter(numtaps, cutoff, width, fs, radial=True)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-7)
    odd = lowpass_filter(13, cutoff, width, fs, radial=True)
    assert torch.isfinite(odd).all() and odd.argmax() == 6 * 13 + 6  # the centre tap


def test_upfirdn2d_is_zero_insertion_then_convolution():
    x = torch.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    f = torch.tensor([1.0, 2.0])
    y = upfirdn2d(x, f, up=2, padding=(1, 0, 1, 0), gain=4)
    # rows and columns: zero insertion [a, 0, b, 0, …], one zero in front, then [1, 2] * 2
    up = torch.zeros(5, 7)
    up[1::2, 1::2] = x[0, 0]
    k = torch.tensor([1.0, 2.0]) * 2
    rows = up[:, :-1] * k[1] + up[:, 1:] * k[0]
    want = rows[:-1] * k[1] + rows[1:] * k[0]
    assert torch.equal(y[0, 0], want)
    assert torch.equal(upfirdn2d(want[None, None], None, down=2)[0, 0], want[::2, ::2])


def test_upfirdn2d_with_a_2d_filter_equals_its_separable_form():
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    f = lowpass_filter(12, 4.0, 5.0, 32)
    for up, down, padding in [(2, 1, (9, 8, 9, 8)), (1, 2, (0, 0, 0, 0)), (4, 2, (-2, 3, -2, 3))]:
        sep = upfirdn2d(x, f, up=up, down=down, padding=padding, gain=up**2)
        full = upfirdn2d(x, torch.outer(f, f), up=up, down=down, padding=padding, gain=up**2)
        torch.testing.assert_close(full, sep, rtol=0, atol=1e-6)
