"""StyleGAN3 generator ("Alias-Free GANs", Karras et al. 2021), T and R configs, plain torch.

Computes what NVlabs' `networks_stylegan3.Generator` computes with its reference ops (the
filtered leaky ReLU as upsample FIR → lrelu → clamp → downsample FIR), on CPU or CUDA with no
custom kernels; its `state_dict()` names are the original's, so a network pickle's weights load
with `load_state_dict(strict=True)`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.stylegan.common import (
    GeneratorBase,
    brief,
    insert_zeros_and_pad,
    normalize_2nd_moment,
)

KIND = "stylegan3"

# Bounds on the config's whole-number fields, inclusive (checked by `bounded()`).
LIMITS: dict[str, tuple[int, int]] = {
    "z_dim": (1, 4096),
    "c_dim": (0, 4096),
    "w_dim": (1, 4096),
    "img_resolution": (4, 2048),
    "img_channels": (1, 16),
    "mapping_layers": (1, 32),
    "channel_base": (1, 1 << 20),
    "channel_max": (1, 4096),
    "num_layers": (1, 32),
    "num_critical": (0, 31),
    "margin_size": (0, 256),
    "num_fp16_res": (0, 32),
    "conv_kernel": (1, 9),
    "filter_size": (1, 16),
    "lrelu_upsampling": (1, 4),
    "truncation_cutoff": (0, 64),
    "class_index": (0, 4095),
}

# The pickle's init_kwargs → our field names (the mapping network's kwargs are nested there).
_MAPPING_KEYS = {
    "num_layers": "mapping_layers",
    "lr_multiplier": "mapping_lr_multiplier",
    "w_avg_beta": "w_avg_beta",
}
_IGNORED_MAPPING_KEYS = {"freeze_layers", "freeze_embed"}  # training only
_PLAYBACK_KEYS = ("truncation_psi", "truncation_cutoff", "class_index")


@dataclass(frozen=True)
class StyleGAN3Config:
    """NVlabs' Generator init_kwargs, flattened, plus how the stage plays it (ψ, cutoff, class:
    what `G(z)` does). Defaults are NVlabs' (StyleGAN3-T); R has `conv_kernel=1`,
    `use_radial_filters=True` and doubled channel_base / channel_max."""

    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 256
    img_channels: int = 3
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.998
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    num_fp16_res: int = 4  # kept for the record: the convolutions run in the module's dtype
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    use_radial_filters: bool = False
    conv_clamp: float | None = 256.0
    magnitude_ema_beta: float = 0.999
    # playback
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None  # None = every w
    class_index: int | None = None  # a conditional network's class when G(z) gets no c

    def __post_init__(self) -> None:
        self.bounded()

    def bounded(self) -> StyleGAN3Config:
        """Raise ValueError naming the field (`config.num_layers = …`) unless every value is
        sane: whole numbers within LIMITS, finite numbers within their ranges. Cheap: nothing
        is built."""
        for key, (low, high) in LIMITS.items():
            value = getattr(self, key)
            if value is None and key in ("truncation_cutoff", "class_index"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"config.{key} = {brief(value)} is not a whole number")
            if value > high:
                raise ValueError(f"config.{key} = {brief(value)} is out of range (at most {high})")
            if value < low:
                raise ValueError(f"config.{key} = {brief(value)} is out of range (at least {low})")
        half = self.img_resolution / 2
        ranges = {
            "mapping_lr_multiplier": (1e-6, 1e3),
            "w_avg_beta": (0.0, 1.0),
            "first_cutoff": (1e-3, half),
            "first_stopband": (self.first_cutoff, 4 * self.img_resolution),
            "last_stopband_rel": (1.0, 16.0),
            "output_scale": (-1e6, 1e6),
            "conv_clamp": (0.0, 1e9),
            "magnitude_ema_beta": (0.0, 1.0),
            "truncation_psi": (-10.0, 10.0),
        }
        for key, (low, high) in ranges.items():
            value = getattr(self, key)
            if key == "conv_clamp" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"config.{key} = {brief(value)} is not a number")
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(
                    f"config.{key} = {brief(value)} is out of range ({low:g} … {high:g})"
                )
        if self.num_critical >= self.num_layers:
            raise ValueError(
                f"config.num_critical = {self.num_critical} must be below"
                f" config.num_layers = {self.num_layers}"
            )
        if not isinstance(self.use_radial_filters, bool):
            raise ValueError(f"config.use_radial_filters = {brief(self.use_radial_filters)}")
        if self.class_index is not None and self.class_index >= self.c_dim:
            classes = f"classes 0…{self.c_dim - 1}" if self.c_dim else "no classes"
            raise ValueError(f"config.class_index = {self.class_index}: the network has {classes}")
        return self

    @classmethod
    def from_init_kwargs(cls, kwargs: Mapping[str, Any], **playback: Any) -> StyleGAN3Config:
        """The config of a network pickle's `init_kwargs` (NVlabs' names, `mapping_kwargs`
        nested), plus playback fields (truncation_psi, truncation_cutoff, class_index). A key
        we do not know is an error naming it, not silently dropped."""
        kwargs = dict(kwargs)
        mapping = dict(kwargs.pop("mapping_kwargs", None) or {})
        kwargs.update(kwargs.pop("synthesis_kwargs", None) or {})  # some forks nest these
        synthesis = {f.name for f in dataclasses.fields(cls)} - set(_MAPPING_KEYS.values())
        synthesis -= set(_PLAYBACK_KEYS)
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key in _IGNORED_MAPPING_KEYS:
                continue
            if key not in _MAPPING_KEYS:
                raise ValueError(f"unsupported mapping option {key!r} = {brief(value)}")
            values[_MAPPING_KEYS[key]] = value
        for key, value in kwargs.items():
            if key not in synthesis:
                raise ValueError(f"unsupported StyleGAN3 option {key!r} = {brief(value)}")
            values[key] = value
        for key in playback:
            if key not in _PLAYBACK_KEYS:
                raise ValueError(f"unknown playback option {key!r}")
        return cls(**values, **playback)


# ---------------------------------------------------------------------------------------------
# Filter design (numpy, float64; the same arithmetic as scipy.signal.firwin with a width).


def kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser window β for `numtaps` taps and a transition `width` (a fraction of Nyquist)."""
    atten = 2.285 * (numtaps - 1) * np.pi * width + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """A Kaiser-windowed low-pass FIR filter: `numtaps` taps (None for 1: the identity),
    separable (1-D, = scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs)) or radially
    symmetric (2-D jinc), as StyleGAN3 designs them. Float32."""
    if numtaps < 1:
        raise ValueError(f"lowpass filter: numtaps = {numtaps}")
    if numtaps == 1:
        return None
    nyq = 0.5 * fs
    if not 0 < cutoff < nyq:
        raise ValueError(f"lowpass filter: cutoff {cutoff:g} is not within (0, fs/2 = {nyq:g})")
    beta = kaiser_beta(numtaps, float(width) / nyq)
    window = np.kaiser(numtaps, beta)
    if not radial:
        c = np.asarray([cutoff], dtype=np.float64) / float(nyq)
        m = np.arange(0, numtaps, dtype=np.float64) - 0.5 * (numtaps - 1)
        h = c * np.sinc(c * m) * window
        return torch.as_tensor(h / np.sum(h), dtype=torch.float32)
    from scipy.special import j1  # scipy comes with scikit-image; only R configs need it

    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    f[r == 0] = cutoff  # the limit at the centre (only an odd tap count has one)
    f *= np.outer(window, window)
    f /= np.sum(f)
    return torch.as_tensor(f, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Resampling ops: NVlabs' reference `upfirdn2d` and `filtered_lrelu` in plain torch.


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop; x0, x1, y0, y1), convolve with the FIR
    filter `f` (1-D separable or 2-D; None = identity) scaled by `gain`, keep every `down`th.
    (A separable upsampling runs as two transposed convolutions: the same sums, without the
    inserted zeros.)"""
    if up > 1 and f is not None and f.ndim == 1:
        return _upsample_separable(x, f, up, padding, gain)[:, :, ::down, ::down]
    c = x.shape[1]
    x = insert_zeros_and_pad(x, up, padding)
    if f is None:  # the identity filter
        x = x[:, :, ::down, ::down]
        return x * gain if gain != 1 else x
    f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip(list(range(f.ndim)))  # convolution
    if f.ndim == 2:
        weight = f[None, None].expand(c, 1, *f.shape)
        return F.conv2d(x, weight, groups=c, stride=down)
    taps = f.shape[0]
    x = F.conv2d(x, f.view(1, 1, 1, taps).expand(c, 1, 1, taps), groups=c, stride=(1, down))
    return F.conv2d(x, f.view(1, 1, taps, 1).expand(c, 1, taps, 1), groups=c, stride=(down, 1))


def _upsample_separable(
    x: torch.Tensor, f: torch.Tensor, up: int, padding: tuple[int, int, int, int], gain: float
) -> torch.Tensor:
    """upfirdn2d(x, f, up, padding, gain) for a 1-D f: a transposed convolution (stride `up`)
    along each axis gives the full convolution of the zero-inserted signal; the padding picks
    the window of it that the zero-padded valid convolution would have seen."""
    c, k = x.shape[1], f.shape[0]
    px0, px1, py0, py1 = padding
    out_h = x.shape[2] * up + py0 + py1 - k + 1
    out_w = x.shape[3] * up + px0 + px1 - k + 1
    f = (f * gain**0.5).to(x.dtype)
    x = F.conv_transpose2d(x, f.view(1, 1, 1, k).expand(c, 1, 1, k), stride=(1, up), groups=c)
    start = k - 1 - px0
    x = F.pad(x, [-start, start + out_w - x.shape[3]])
    x = F.conv_transpose2d(x, f.view(1, 1, k, 1).expand(c, 1, k, 1), stride=(up, 1), groups=c)
    start = k - 1 - py0
    return F.pad(x, [0, 0, -start, start + out_h - x.shape[2]])


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
    slope: float,
    clamp: float | None,
) -> torch.Tensor:
    """Bias, upsample (FIR `fu`), leaky ReLU × gain, clamp to ±clamp, downsample (FIR `fd`)."""
    x = x + b.reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    s: torch.Tensor,
    demodulate: bool,
    padding: int,
    input_gain: torch.Tensor,
) -> torch.Tensor:
    """Conv of x (N, I, H, W) with `weight` (O, I, k, k) scaled per sample and input channel by
    the styles s (N, I) (and `input_gain`), optionally demodulated: one grouped conv."""
    n = x.shape[0]
    out_c, in_c, kh, kw = weight.shape
    w = weight.to(s.dtype)  # the styles' precision (float32); x may be float16
    if demodulate:
        w = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean().rsqrt()
    w = w.unsqueeze(0) * s.unsqueeze(1).unsqueeze(3).unsqueeze(4)  # (N, O, I, k, k)
    if demodulate:
        d = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * d.unsqueeze(2).unsqueeze(3).unsqueeze(4)
    g = input_gain.expand(n, in_c)
    w = w * g.unsqueeze(1).unsqueeze(3).unsqueeze(4)
    x = x.reshape(1, -1, *x.shape[2:])
    x = F.conv2d(x, w.reshape(-1, in_c, kh, kw).to(x.dtype), padding=padding, groups=n)
    return x.reshape(n, -1, *x.shape[2:])


# ---------------------------------------------------------------------------------------------
# Networks. Attribute names are NVlabs' (they are the state_dict's keys).


class FullyConnected(nn.Module):
    """Linear layer with equalized learning rate (weight and bias gains), optional lrelu."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        lrelu: bool = False,
        lr_multiplier: float = 1.0,
        weight_init: float = 1.0,
        bias_init: float | list[float] = 0.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_features, in_features) * (weight_init / lr_multiplier)
        )
        bias = np.broadcast_to(np.asarray(bias_init, np.float32), [out_features])
        bias = torch.as_tensor(bias.copy())
        self.bias = nn.Parameter(bias / lr_multiplier)
        self.lrelu = lrelu
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype)
        if self.bias_gain != 1:
            b = b * self.bias_gain
        if not self.lrelu:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        x = x.matmul(w.t()) + b.reshape(1, -1)
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class MappingNetwork(nn.Module):
    """z (and a class label c) → w, repeated num_ws times; truncation toward w_avg."""

    def __init__(self, config: StyleGAN3Config, num_ws: int) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.num_ws, self.num_layers = num_ws, config.mapping_layers
        if self.c_dim > 0:
            self.embed = FullyConnected(self.c_dim, self.w_dim)
        features = [self.z_dim + (self.w_dim if self.c_dim > 0 else 0)]
        features += [self.w_dim] * self.num_layers
        for i in range(self.num_layers):
            layer = FullyConnected(
                features[i], features[i + 1], lrelu=True, lr_multiplier=config.mapping_lr_multiplier
            )
            setattr(self, f"fc{i}", layer)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """ψ and cutoff default to the config's; c to its class (one-hot)."""
        psi = self.config.truncation_psi if truncation_psi is None else truncation_psi
        cut = self.config.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"mapping: z must be (N, {self.z_dim}), got {tuple(z.shape)}")
        x = z.to(torch.float32)  # the w path runs in float32 whatever the weights' dtype
        x = normalize_2nd_moment(x)
        if self.c_dim > 0:
            if c is None:
                if self.config.class_index is None:
                    raise ValueError(f"mapping: a class c (N, {self.c_dim}) or config.class_index")
                c = F.one_hot(torch.tensor(self.config.class_index, device=z.device), self.c_dim)
                c = c.to(x).expand(z.shape[0], -1)
            if c.shape != (z.shape[0], self.c_dim):
                raise ValueError(f"mapping: c must be (N, {self.c_dim}), got {tuple(c.shape)}")
            y = normalize_2nd_moment(self.embed(c.to(x.dtype)))
            x = torch.cat([x, y], dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if psi != 1:
            cut = self.num_ws if cut is None else cut
            near = self.w_avg.to(ws.dtype).lerp(ws[:, :cut], psi)
            ws = torch.cat([near, ws[:, cut:]], dim=1)
        return ws


class SynthesisInput(nn.Module):
    """Fourier features: sinusoids of fixed frequencies, rotated and translated by an affine
    of w (and the user `transform` buffer), then a learned channel mix."""

    def __init__(
        self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float
    ) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        freqs = torch.randn(channels, 2)  # random frequencies within the band (NVlabs' draw)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand(channels) - 0.5
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnected(w_dim, 4, weight_init=0.0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))  # inverse transform of the image
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        n, dev, dt = w.shape[0], w.device, w.dtype
        t = self.affine(w)  # (cos, sin, tx, ty) of the inverse rotation and translation
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=dev, dtype=dt).unsqueeze(0).repeat([n, 1, 1])
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, device=dev, dtype=dt).unsqueeze(0).repeat([n, 1, 1])
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        transforms = m_r @ m_t @ self.transform.to(dt).unsqueeze(0)

        freqs = self.freqs.to(dt).unsqueeze(0)
        phases = self.phases.to(dt).unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # fade out frequencies a user transform pushed beyond the band
        fade = (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)
        amplitudes = (1 - fade).clamp(0, 1)

        theta = torch.eye(2, 3, device=dev, dtype=dt)
        theta[0, 0] = 0.5 * self.size / self.sampling_rate
        theta[1, 1] = 0.5 * self.size / self.sampling_rate
        size = [1, 1, self.size, self.size]
        grid = F.affine_grid(theta.unsqueeze(0), size, align_corners=False)  # (1, H, W, 2)

        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2)) * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight.to(dt) / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)  # (N, C, H, W)


class SynthesisLayer(nn.Module):
    """Modulated conv, then the filtered leaky ReLU: upsample to the lrelu's sampling rate,
    activate, low-pass and downsample to the output's. The last one (ToRGB) is a 1×1 conv."""

    def __init__(
        self,
        config: StyleGAN3Config,
        is_torgb: bool,
        is_critical: bool,
        in_channels: int,
        out_channels: int,
        in_size: int,
        out_size: int,
        in_rate: int,
        out_rate: int,
        in_cutoff: float,
        out_cutoff: float,
        in_half_width: float,
        out_half_width: float,
    ) -> None:
        super().__init__()
        self.is_torgb, self.in_channels, self.out_size = is_torgb, in_channels, out_size
        self.conv_kernel = 1 if is_torgb else config.conv_kernel
        self.conv_clamp = config.conv_clamp
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else config.lrelu_upsampling)

        self.affine = FullyConnected(config.w_dim, in_channels, bias_init=1.0)
        k = self.conv_kernel
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))

        self.up = int(np.rint(tmp_rate / in_rate))
        self.down = int(np.rint(tmp_rate / out_rate))
        up_taps = config.filter_size * self.up if self.up > 1 and not is_torgb else 1
        down_taps = config.filter_size * self.down if self.down > 1 and not is_torgb else 1
        radial = config.use_radial_filters and not is_critical
        self.register_buffer(
            "up_filter", lowpass_filter(up_taps, in_cutoff, in_half_width * 2, tmp_rate)
        )
        self.register_buffer(
            "down_filter",
            lowpass_filter(down_taps, out_cutoff, out_half_width * 2, tmp_rate, radial=radial),
        )
        # padding of the upsampled image; output samples sit at the symmetric positions
        total = (out_size - 1) * self.down + 1 - (in_size + k - 1) * self.up
        total += up_taps + down_taps - 2
        lo = (total + self.up) // 2
        self.padding = (lo, total - lo, lo, total - lo)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel**2))
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            demodulate=not self.is_torgb,
            padding=self.conv_kernel - 1,
            input_gain=self.magnitude_ema.rsqrt(),
        )
        return filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias.to(x.dtype),
            up=self.up,
            down=self.down,
            padding=self.padding,
            gain=1 if self.is_torgb else np.sqrt(2),
            slope=1 if self.is_torgb else 0.2,
            clamp=self.conv_clamp,
        )


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) → image: Fourier input, num_layers layers whose cutoffs grow
    geometrically to the image's Nyquist (the last num_critical critically sampled), ToRGB."""

    def __init__(self, config: StyleGAN3Config) -> None:
        super().__init__()
        c = config.bounded()
        self.w_dim, self.img_resolution = c.w_dim, c.img_resolution
        self.num_ws = c.num_layers + 2
        self.output_scale = c.output_scale
        last_cutoff = c.img_resolution / 2
        last_stopband = last_cutoff * c.last_stopband_rel
        exponents = np.minimum(np.arange(c.num_layers + 1) / (c.num_layers - c.num_critical), 1)
        cutoffs = c.first_cutoff * (last_cutoff / c.first_cutoff) ** exponents
        stopbands = c.first_stopband * (last_stopband / c.first_stopband) ** exponents
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, c.img_resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + c.margin_size * 2
        sizes[-2:] = c.img_resolution
        channels = np.rint(np.minimum((c.channel_base / 2) / cutoffs, c.channel_max))
        channels[-1] = c.img_channels

        self.input = SynthesisInput(
            c.w_dim, int(channels[0]), int(sizes[0]), float(rates[0]), float(cutoffs[0])
        )
        self.layer_names: list[str] = []
        for i in range(c.num_layers + 1):
            p = max(i - 1, 0)
            layer = SynthesisLayer(
                c,
                is_torgb=i == c.num_layers,
                is_critical=i >= c.num_layers - c.num_critical,
                in_channels=int(channels[p]),
                out_channels=int(channels[i]),
                in_size=int(sizes[p]),
                out_size=int(sizes[i]),
                in_rate=int(rates[p]),
                out_rate=int(rates[i]),
                in_cutoff=float(cutoffs[p]),
                out_cutoff=float(cutoffs[i]),
                in_half_width=float(half_widths[p]),
                out_half_width=float(half_widths[i]),
            )
            name = f"L{i}_{int(sizes[i])}_{int(channels[i])}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            want = f"(N, {self.num_ws}, {self.w_dim})"
            raise ValueError(f"synthesis: ws must be {want}, got {tuple(ws.shape)}")
        # ws, styles and the Fourier input in float32; the convolutions in the weights' dtype
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:], strict=True):
            layer = getattr(self, name)
            x = layer(x.to(layer.weight.dtype), w)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x


class Generator(GeneratorBase):
    """G: z (N, z_dim) → image (N, img_channels, R, R), raw range (about −1…1, not clipped).

    `G(z)` plays the config's ψ, cutoff and class; `mapping(z, c, ψ)` and `synthesis(ws)` are
    the two halves (NVlabs' API)."""

    def __init__(self, config: StyleGAN3Config) -> None:
        super().__init__(config.bounded(), SynthesisNetwork, MappingNetwork)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
    ) -> torch.Tensor:
        if noise_mode not in ("const", "random", "none"):  # StyleGAN3 has no noise inputs
            raise ValueError(f"noise_mode {noise_mode!r}: 'const', 'random' or 'none'")
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws)


def build(config: StyleGAN3Config) -> dict[str, nn.Module]:
    """The networks of a stylegan3 checkpoint: {"G": Generator}."""
    return {"G": Generator(config)}
