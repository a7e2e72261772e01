"""StyleGAN2 generator (Karras et al. 2020) in plain PyTorch ops, equal to NVlabs'
`training/networks_stylegan2.py` (and stylegan2-ada-pytorch's `training/networks.py`).

Same module tree and `state_dict()` names as the original, so an imported network is a plain
`load_state_dict(strict=True)`. Their custom ops are replaced by their reference semantics:
`upfirdn2d` (zero-insertion up-sampling, padding/cropping, a flipped FIR filter with gain),
`conv2d_resample` (transposed conv + filter for up=2), `bias_act` (with its default gains, lrelu
√2, and clamping). Every layer computes in the module's dtype: float32 by default — the
original's fp16 layers run in fp32 on the CPU too, which is what imports are checked against —
or float16 when the engine casts it so on CUDA (with the original's fp16 pre-normalisation).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.stylegan.common import (
    GeneratorBase,
    brief,
    insert_zeros_and_pad,
    normalize_2nd_moment,
)

# Bounds of this config's size fields, merged into models.registry.LIMITS (a key shared with
# another kind has one bound and one type there: conv_clamp, a number, is checked below).
LIMITS: dict[str, tuple[int, int]] = {
    "c_dim": (0, 4096),
    "img_resolution": (4, 2048),
    "img_channels": (1, 16),
    "embed_features": (1, 4096),
    "layer_features": (1, 4096),
    "channel_base": (1, 2**20),
    "channel_max": (1, 4096),
    "num_fp16_res": (0, 32),
    "resample_filter": (0, 255),
    "kernel_size": (1, 7),
    "truncation_cutoff": (0, 64),
    "class_index": (0, 4095),
}

ARCHITECTURES = ("orig", "skip", "resnet")
NOISE_MODES = ("const", "random", "none")

# bias_act's activations: name → (function, default gain)
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (lambda x: torch.sigmoid(x) * x, math.sqrt(2)),
}


@dataclass(frozen=True)
class StyleGAN2Config:
    """NVlabs' Generator arguments, flattened (mapping_kwargs, synthesis_kwargs), plus how the
    stage plays it: ψ, cutoff, class, noise mode. Defaults: a small network (an import takes
    every value from the pickle)."""

    z_dim: int = 32
    c_dim: int = 0
    w_dim: int = 32
    img_resolution: int = 32
    img_channels: int = 3
    # mapping network
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    mapping_activation: str = "lrelu"
    embed_features: int | None = None  # None = w_dim
    layer_features: int | None = None  # None = w_dim
    w_avg_beta: float | None = 0.998  # None = no w_avg (then no truncation)
    # synthesis network
    channel_base: int = 1024
    channel_max: int = 64
    num_fp16_res: int = 0  # the original's fp16 resolutions (CUDA only); computed in fp32 here
    conv_clamp: float | None = 256.0  # None = no clamping
    architecture: str = "skip"
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)
    kernel_size: int = 3
    use_noise: bool = True
    activation: str = "lrelu"
    # playback: what generator(z) does
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None  # None = every layer
    class_index: int | None = None  # required for a conditional network (c_dim > 0)
    noise_mode: str = "const"

    def __post_init__(self) -> None:
        """Types and structure (a checkpoint's config is untrusted); sizes: `bounded()`."""
        ints = ["z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_layers"]
        ints += ["channel_base", "channel_max", "num_fp16_res", "kernel_size"]
        optional_ints = ["truncation_cutoff", "class_index", "embed_features", "layer_features"]
        numbers = ["mapping_lr_multiplier", "truncation_psi", "w_avg_beta", "conv_clamp"]
        for name in ints + optional_ints:
            value = getattr(self, name)
            if value is None and name in optional_ints:
                continue
            if not (_is_int(value) and value >= 0):
                raise ValueError(f"StyleGAN2Config: {name} = {brief(value)} is not a whole number")
        for name in numbers:
            value = getattr(self, name)
            if value is None and name in ("w_avg_beta", "conv_clamp"):
                continue
            real = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (real and math.isfinite(value)):
                raise ValueError(f"StyleGAN2Config: {name} = {brief(value)} is not a number")
        choices = {
            "architecture": ARCHITECTURES,
            "mapping_activation": tuple(ACTIVATIONS),
            "activation": tuple(ACTIVATIONS),
            "noise_mode": NOISE_MODES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"StyleGAN2Config: {name} must be one of {', '.join(allowed)}")
        if not isinstance(self.use_noise, bool):
            raise ValueError("StyleGAN2Config: use_noise must be true or false")
        taps = self.resample_filter
        ok = isinstance(taps, (list, tuple)) and all(_is_int(t) and t >= 0 for t in taps)
        if not ok or sum(taps) <= 0:
            raise ValueError("StyleGAN2Config: resample_filter must be taps with a positive sum")
        object.__setattr__(self, "resample_filter", tuple(taps))
        r = self.img_resolution
        if r < 4 or r & (r - 1):
            raise ValueError(f"StyleGAN2Config: img_resolution must be a power of 2 ≥ 4, got {r}")
        if min(self.z_dim, self.w_dim, self.img_channels, self.mapping_layers) < 1:
            raise ValueError("StyleGAN2Config: z_dim, w_dim, img_channels, mapping_layers ≥ 1")
        if min(self.channel_max, self.channel_base // r) < 1:
            raise ValueError("StyleGAN2Config: no channels at the top resolution")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"StyleGAN2Config: kernel_size must be odd, got {self.kernel_size}")
        if not self.mapping_lr_multiplier > 0:
            raise ValueError("StyleGAN2Config: mapping_lr_multiplier must be > 0")
        if self.conv_clamp is not None and self.conv_clamp < 0:
            raise ValueError("StyleGAN2Config: conv_clamp must be ≥ 0 or None")
        if self.c_dim > 0 and not (self.class_index is not None and self.class_index < self.c_dim):
            raise ValueError(
                f"StyleGAN2Config: a conditional network ({self.c_dim} classes) needs"
                f" class_index 0…{self.c_dim - 1}, got {self.class_index}"
            )
        if self.c_dim == 0 and self.class_index is not None:
            raise ValueError("StyleGAN2Config: class_index given for an unconditional network")
        if self.truncation_psi != 1 and self.w_avg_beta is None:
            raise ValueError("StyleGAN2Config: truncation needs w_avg (w_avg_beta is None)")

    @classmethod
    def from_init_kwargs(cls, kwargs: dict, **playback) -> StyleGAN2Config:
        """The config of an NVlabs Generator's `init_kwargs` (plain data from the reader), plus
        playback fields (truncation_psi, class_index, ...). ValueError names what is unsupported;
        sizes out of bounds raise the registry's ConfigError (see `bounded`)."""
        kwargs = dict(kwargs)
        mapping = dict(kwargs.pop("mapping_kwargs", None) or {})
        synthesis = dict(kwargs.pop("synthesis_kwargs", None) or {})  # some forks nest these
        synthesis.update({k: kwargs.pop(k) for k in list(kwargs) if k not in _TOP_KEYS})
        values = {k: kwargs[k] for k in _TOP_KEYS if k in kwargs}
        for key, value in mapping.items():
            if key not in _MAPPING_KEYS:
                raise ValueError(f"unsupported mapping option {brief(key)} = {brief(value)}")
            values[_MAPPING_KEYS[key]] = value
        for key, value in synthesis.items():
            if key in _IGNORED_KEYS:
                continue  # memory layout / training speed only
            if key not in _SYNTHESIS_KEYS:
                raise ValueError(f"unsupported synthesis option {brief(key)} = {brief(value)}")
            values[key] = tuple(value) if isinstance(value, list) else value
        values.update(playback)
        return cls(**values).bounded()

    def bounded(self) -> StyleGAN2Config:
        """This config, once every size is within the registry's LIMITS (ConfigError names the
        key: `config.channel_max = … is out of range`)."""
        from models.registry import check_value  # the registry imports this module

        for key, value in dataclasses.asdict(self).items():
            check_value(key, value)
        return self

    @property
    def resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TOP_KEYS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
_MAPPING_KEYS = {
    "num_layers": "mapping_layers",
    "lr_multiplier": "mapping_lr_multiplier",
    "activation": "mapping_activation",
    "embed_features": "embed_features",
    "layer_features": "layer_features",
    "w_avg_beta": "w_avg_beta",
}
_SYNTHESIS_KEYS = {
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "architecture",
    "resample_filter",
    "kernel_size",
    "use_noise",
    "activation",
}
_IGNORED_KEYS = {"fp16_channels_last", "channels_last", "fused_modconv_default"}


# ---------------------------------------------------------------- NVlabs' ops, reference semantics


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """upfirdn2d.setup_filter: taps → a normalised FIR filter (2-D outer product under 8 taps,
    separable 1-D from 8 on)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.numel() < 8:
        f = f.ger(f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Up-sample by inserting zeros, pad (negative: crop) as [x0, x1, y0, y1], convolve with
    the FIR filter `f` (times gain), keep every `down`-th pixel."""
    c = x.shape[1]
    x = insert_zeros_and_pad(x, up, padding)
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f[None, None].repeat([c, 1] + [1] * f.ndim)
    if f.ndim == 4:
        x = F.conv2d(x, f, groups=c)
    else:  # separable
        x = F.conv2d(x, f.unsqueeze(2), groups=c)
        x = F.conv2d(x, f.unsqueeze(3), groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    fw, fh = f.shape[-1], f.shape[0]
    padding = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=padding, gain=up * up)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """conv2d_resample without down-sampling: conv2d, or for up > 1 a transposed conv then the
    filter (1×1 kernels: conv then up-sample), padding counted on the up-sampled image."""
    out_channels, in_per_group, kh, kw = w.shape
    px0 = px1 = py0 = py1 = padding
    if up > 1:
        fw, fh = f.shape[-1], f.shape[0]
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
        if kw == 1 and kh == 1:
            x = F.conv2d(x, w, groups=groups)
            return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up**2)
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0, px1, py0, py1 = px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)
        pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        if flip_weight:  # the transposed conv flips; the original passes not flip_weight
            w = w.flip([2, 3])
        x = F.conv_transpose2d(x, w, stride=up, padding=[pyt, pxt], groups=groups)
        padding4 = [px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt]
        return upfirdn2d(x, f, padding=padding4, gain=up**2)
    if not flip_weight and (kw > 1 or kh > 1):
        w = w.flip([2, 3])
    return F.conv2d(x, w, padding=padding, groups=groups)


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Add the bias (on dim 1), the activation, times gain (default: the activation's), clamp."""
    func, default_gain = ACTIVATIONS[act]
    gain = default_gain if gain is None else gain
    if b is not None:
        x = x + b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    x = func(x)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    f: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
) -> torch.Tensor:
    """The fused modulated convolution: per-sample weights (styles, then demodulation), one
    grouped conv over the batch, then the noise."""
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:  # the original's guard against fp16 overflow
        weight = weight * (
            1
            / math.sqrt(in_channels * kh * kw)
            / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * dcoefs.reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d_resample(x, w, f=f, up=up, padding=padding, groups=n, flip_weight=flip_weight)
    x = x.reshape(n, -1, *x.shape[2:])
    return x + noise if noise is not None else x


def mix(ws_a: torch.Tensor, ws_b: torch.Tensor, crossover: int) -> torch.Tensor:
    """Style mixing: the layers before `crossover` from ws_a (coarse), the rest from ws_b."""
    return torch.cat([ws_a[:, :crossover], ws_b[:, crossover:]], dim=1)


# ---------------------------------------------------------------- the networks (NVlabs' names)


class FullyConnectedLayer(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(nn.Module):
    """z (and class c) → ws (N, num_ws, w_dim), truncated toward w_avg."""

    def __init__(self, config: StyleGAN2Config, num_ws: int) -> None:
        super().__init__()
        self.config, self.num_ws = config, num_ws
        w_dim = config.w_dim
        embed = (config.embed_features or w_dim) if config.c_dim > 0 else 0
        hidden = config.layer_features or w_dim
        features = [config.z_dim + embed] + [hidden] * (config.mapping_layers - 1) + [w_dim]
        if config.c_dim > 0:
            self.embed = FullyConnectedLayer(config.c_dim, embed)
        for i in range(config.mapping_layers):
            layer = FullyConnectedLayer(
                features[i],
                features[i + 1],
                activation=config.mapping_activation,
                lr_multiplier=config.mapping_lr_multiplier,
            )
            setattr(self, f"fc{i}", layer)
        if config.w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """ψ and cutoff default to the config's; c to its class (one-hot)."""
        cfg = self.config
        psi = cfg.truncation_psi if truncation_psi is None else truncation_psi
        cutoff = cfg.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
        dtype = self.fc0.weight.dtype  # float32, or what the module was cast to
        z = z.reshape(z.shape[0], -1).to(dtype)
        x = normalize_2nd_moment(z)
        if cfg.c_dim > 0:
            if c is None:
                c = F.one_hot(torch.tensor(cfg.class_index, device=z.device), cfg.c_dim)
                c = c.expand(z.shape[0], -1)
            y = normalize_2nd_moment(self.embed(c.to(dtype)))
            x = torch.cat([x, y], dim=1)
        for i in range(cfg.mapping_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_emas and cfg.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, cfg.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if psi != 1:
            if cfg.w_avg_beta is None:
                raise ValueError("truncation needs w_avg, and this network tracks none")
            if cutoff is None:
                x = self.w_avg.lerp(x, psi)
            else:
                x[:, :cutoff] = self.w_avg.lerp(x[:, :cutoff], psi)
        return x


class Conv2dLayer(nn.Module):
    """The resnet architecture's 1×1 skip conv (up-sampling, no bias, linear)."""

    def __init__(self, c_in: int, c_out: int, up: int, taps: Sequence[int]) -> None:
        super().__init__()
        self.up = up
        self.register_buffer("resample_filter", setup_filter(taps))
        self.weight = nn.Parameter(torch.randn([c_out, c_in, 1, 1]))
        self.weight_gain = 1 / math.sqrt(c_in)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, flip_weight=self.up == 1)
        return bias_act(x, None, act="linear", gain=gain)


class SynthesisLayer(nn.Module):
    """Modulated conv (optionally up-sampling), noise, bias, activation, clamp."""

    def __init__(self, config: StyleGAN2Config, c_in: int, c_out: int, res: int, up: int = 1):
        super().__init__()
        self.config, self.resolution, self.up = config, res, up
        k = config.kernel_size
        self.padding = k // 2
        # the original hands the block's filter to conv0 only; conv1 keeps the default (unused)
        taps = config.resample_filter if up > 1 else (1, 3, 3, 1)
        self.register_buffer("resample_filter", setup_filter(taps))
        self.affine = FullyConnectedLayer(config.w_dim, c_in, bias_init=1)
        self.weight = nn.Parameter(torch.randn([c_out, c_in, k, k]))
        if config.use_noise:
            self.register_buffer("noise_const", torch.randn([res, res]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([c_out]))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", gain: float = 1.0
    ) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.config.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            noise = torch.randn(shape, device=x.device, dtype=x.dtype) * self.noise_strength
        if self.config.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            f=self.resample_filter,
            flip_weight=self.up == 1,
        )
        _, act_gain = ACTIVATIONS[self.config.activation]
        clamp = self.config.conv_clamp * gain if self.config.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.config.activation, gain=act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    def __init__(self, config: StyleGAN2Config, c_in: int) -> None:
        super().__init__()
        self.config = config
        self.affine = FullyConnectedLayer(config.w_dim, c_in, bias_init=1)
        self.weight = nn.Parameter(torch.randn([config.img_channels, c_in, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([config.img_channels]))
        self.weight_gain = 1 / math.sqrt(c_in)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.config.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (the 4×4 constant | up-sampling conv0), conv1, ToRGB (skip: every
    block; orig/resnet: the last), the resnet skip."""

    def __init__(self, config: StyleGAN2Config, c_in: int, c_out: int, res: int) -> None:
        super().__init__()
        self.config, self.c_in, self.resolution = config, c_in, res
        arch = config.architecture
        self.is_last = res == config.img_resolution
        self.register_buffer("resample_filter", setup_filter(config.resample_filter))
        if c_in == 0:
            self.const = nn.Parameter(torch.randn([c_out, res, res]))
        else:
            self.conv0 = SynthesisLayer(config, c_in, c_out, res, up=2)
        self.conv1 = SynthesisLayer(config, c_out, c_out, res)
        self.num_conv = 1 if c_in == 0 else 2
        self.num_torgb = 1 if self.is_last or arch == "skip" else 0
        if self.num_torgb:
            self.torgb = ToRGBLayer(config, c_out)
        if c_in != 0 and arch == "resnet":
            self.skip = Conv2dLayer(c_in, c_out, up=2, taps=config.resample_filter)

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = iter(ws.unbind(dim=1))
        if self.c_in == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w), noise_mode)
        elif self.config.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w), noise_mode)
            x = self.conv1(x, next(w), noise_mode, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv0(x, next(w), noise_mode)
            x = self.conv1(x, next(w), noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w))
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) → image (N, img_channels, R, R) in the network's raw range."""

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = config
        self.num_ws = 0
        for res in config.resolutions:
            c_in = config.channels(res // 2) if res > 4 else 0
            block = SynthesisBlock(config, c_in, config.channels(res), res)
            self.num_ws += block.num_conv + (block.num_torgb if block.is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        noise_mode = self.config.noise_mode if noise_mode is None else noise_mode
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = ws.to(self.b4.const.dtype)
        x = img = None
        i = 0
        for res in self.config.resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws.narrow(1, i, block.num_conv + block.num_torgb), noise_mode)
            i += block.num_conv
        return img


class Generator(GeneratorBase):
    """z (N, z_dim) → image (N, img_channels, R, R), raw range (about −1…1, not clipped).

    `generator(z)` plays the config's ψ, cutoff, class and noise mode; `mapping(z, c, ψ)` and
    `synthesis(ws)` are the two halves (NVlabs' API)."""

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__(config, SynthesisNetwork, MappingNetwork)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float | None = None,
        truncation_cutoff: int | None = None,
        noise_mode: str | None = None,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode)
