"""Network bending: operations on a generator's intermediate feature maps at a chosen layer.

The layers are found once per generator by a dry run with forward hooks: the outputs of its
conv / conv-transpose / modulated-conv modules (any module with its own 4-D `weight`, not inside
another such module) in the order the forward pass calls them. `bend.layer` (0 … 1) picks one
of them by depth; the ops (`BEND_OPS`) act on that module's output through one forward hook.

With every op at its default ("off") no hook is registered at all: the decode is the plain
generator's, bit for bit, at no cost. A `Bender` keeps one hook on the chosen layer while any op
is on (re-registered only when the layer changes); the hook reads the ops the engine set for the
current request (`Bender.set`) before each decode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# op → (default = off, min, max); the engine parameter is "bend." + op (core/automation.py)
BEND_OPS: dict[str, tuple[float, float, float]] = {
    "translate_x": (0.0, -1.0, 1.0),  # fraction of the map's width, wrapping (torch.roll)
    "translate_y": (0.0, -1.0, 1.0),  # fraction of the map's height, wrapping
    "rotate": (0.0, -180.0, 180.0),  # degrees, about the map's centre (grid_sample)
    "scale": (1.0, 0.25, 4.0),  # zoom about the centre (>1: in), reflected at the edges
    "flip": (0.0, 0.0, 1.0),  # ≥ 0.5: left-right mirror
    "ablate": (0.0, 0.0, 1.0),  # fraction of channels zeroed (a fixed seeded permutation)
    "isolate": (1.0, 0.0, 1.0),  # fraction of channels kept (the rest zeroed; another one)
    "invert": (0.0, 0.0, 1.0),  # blend toward −x
    "multiply": (1.0, -4.0, 4.0),  # gain
    "threshold": (0.0, 0.0, 1.0),  # blend toward a binary map (per channel: mean ± std)
    "erode": (0.0, 0.0, 1.0),  # blend toward the 3×3 minimum
    "dilate": (0.0, 0.0, 1.0),  # blend toward the 3×3 maximum
    "noise": (0.0, 0.0, 4.0),  # additive Gaussian noise × the map's std, seeded per frame
}
LAYER = (0.5, 0.0, 1.0)  # bend.layer: default, min, max
ABLATE_SEED, ISOLATE_SEED = 1515, 1516  # the channel orders ablate / isolate walk


def feature_modules(G: nn.Module) -> list[nn.Module]:
    """The candidates: modules with their own 4-D `weight` (nn.Conv2d, nn.ConvTranspose2d,
    modulated convs) that no other candidate contains."""
    found: list[nn.Module] = []
    inside: set[int] = set()
    for m in G.modules():  # pre-order: a parent before its children
        if id(m) in inside:
            continue
        w = m._parameters.get("weight")
        if w is not None and w.ndim == 4:
            found.append(m)
            inside.update(id(c) for c in m.modules())
    return found


@torch.inference_mode()
def feature_layers(G: nn.Module) -> list[nn.Module]:
    """The generator's feature layers in forward order, found by one dry run (z = 0) with
    forward hooks; a module called more than once counts at its first call; only outputs that
    are (N, C, H, W) tensors."""
    order: list[nn.Module] = []
    seen: set[int] = set()

    def record(module: nn.Module, _inputs: object, output: object) -> None:
        if id(module) not in seen and isinstance(output, torch.Tensor) and output.ndim == 4:
            seen.add(id(module))
            order.append(module)

    handles = [m.register_forward_hook(record) for m in feature_modules(G)]
    was = G.training
    try:
        p = next(G.parameters())
        G.eval()
        G(torch.zeros(1, int(G.z_dim), device=p.device, dtype=p.dtype))
    finally:
        G.train(was)
        for h in handles:
            h.remove()
    return order


def layer_index(layer: float, count: int) -> int:
    """bend.layer (0 … 1) → an index into `count` layers: 0 the first, 1 the last."""
    u = min(max(float(layer), 0.0), 1.0)
    return int(round(u * (count - 1))) if count > 0 else 0


def active_ops(bend: Mapping[str, float] | None) -> dict[str, float]:
    """The ops of `bend` (keys with or without the "bend." prefix) away from their defaults."""
    out: dict[str, float] = {}
    for key, value in (bend or {}).items():
        op = key[5:] if key.startswith("bend.") else key
        spec = BEND_OPS.get(op)
        if spec is None or value is None:
            continue
        v = min(max(float(value), spec[1]), spec[2])
        if op == "flip":
            if v >= 0.5:
                out[op] = 1.0
        elif v != spec[0]:
            out[op] = v
    return out


@dataclass
class _Masks:
    """Channel masks by (op, channels, fraction, device, dtype): built once, reused."""

    cache: dict

    def get(self, op: str, c: int, frac: float, like: torch.Tensor) -> torch.Tensor:
        k = int(round(frac * c))
        key = (op, c, k, like.device, like.dtype)
        mask = self.cache.get(key)
        if mask is None:
            g = torch.Generator().manual_seed(ABLATE_SEED if op == "ablate" else ISOLATE_SEED)
            perm = torch.randperm(c, generator=g)
            m = torch.zeros(c) if op == "isolate" else torch.ones(c)
            m[perm[:k]] = 1.0 if op == "isolate" else 0.0
            mask = m.view(1, c, 1, 1).to(like.device, like.dtype)
            self.cache[key] = mask
        return mask


def bend_tensor(
    x: torch.Tensor, ops: Mapping[str, float], seed: int = 0, masks: _Masks | None = None
) -> torch.Tensor:
    """`ops` (from `active_ops`) applied to a feature map x (N, C, H, W); a new tensor."""
    masks = masks or _Masks({})
    n, c, h, w = x.shape
    sx = int(round(ops.get("translate_x", 0.0) * w))
    sy = int(round(ops.get("translate_y", 0.0) * h))
    if sx or sy:
        x = torch.roll(x, shifts=(sy, sx), dims=(2, 3))
    angle, scale = ops.get("rotate", 0.0), ops.get("scale", 1.0)
    if angle or scale != 1.0:
        a = math.radians(angle)
        cos, sin = math.cos(a) / scale, math.sin(a) / scale
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta.expand(n, 2, 3), [n, c, h, w], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if ops.get("flip"):
        x = x.flip(3)
    if "ablate" in ops:
        x = x * masks.get("ablate", c, ops["ablate"], x)
    if "isolate" in ops:
        x = x * masks.get("isolate", c, ops["isolate"], x)
    if "invert" in ops:
        x = x * (1.0 - 2.0 * ops["invert"])  # lerp(x, −x, a)
    if "multiply" in ops:
        x = x * ops["multiply"]
    if "threshold" in ops:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True) if h * w > 1 else torch.zeros_like(mean)
        binary = torch.where(x > mean, mean + std, mean - std)
        x = torch.lerp(x, binary, ops["threshold"])
    if "erode" in ops:
        low = -F.max_pool2d(-x, 3, stride=1, padding=1)
        x = torch.lerp(x, low, ops["erode"])
    if "dilate" in ops:
        high = F.max_pool2d(x, 3, stride=1, padding=1)
        x = torch.lerp(x, high, ops["dilate"])
    if "noise" in ops:
        g = torch.Generator(device=x.device).manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
        noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
        x = x + noise * (x.float().std() * ops["noise"]).to(x.dtype)
    return x


class Bender:
    """Bending for one generator (or a pair: the same depth in each): `set(bend, seed)` before
    a decode; with every op off, no hook is left registered."""

    def __init__(self, *generators: nn.Module) -> None:
        self.generators = generators
        self._layers: list[list[nn.Module]] | None = None  # per generator, by the dry run
        self._hooked: int | None = None  # the layer index hooked now (None: no hook)
        self._handles: list = []
        self.ops: dict[str, float] = {}
        self.seed = 0
        self._masks = _Masks({})

    @property
    def layers(self) -> list[list[nn.Module]]:
        if self._layers is None:
            self._layers = [feature_layers(G) for G in self.generators]
        return self._layers

    def set(self, bend: Mapping[str, float] | None, seed: int = 0) -> None:
        """The ops for the next decode: the hook moved to bend["layer"] (or removed)."""
        ops = active_ops(bend)
        self.ops, self.seed = ops, int(seed)
        if not ops:
            self.remove()
            return
        layer = (bend or {}).get("layer", (bend or {}).get("bend.layer", LAYER[0]))
        layer = LAYER[0] if layer is None else float(layer)
        index = layer_index(layer, min(len(g) for g in self.layers))
        if index == self._hooked:
            return
        self.remove()
        for layers in self.layers:
            if layers:
                self._handles.append(layers[index].register_forward_hook(self._hook))
        self._hooked = index

    def _hook(self, _module: nn.Module, _inputs: object, output: object) -> torch.Tensor | None:
        if not self.ops or not isinstance(output, torch.Tensor) or output.ndim != 4:
            return None
        return bend_tensor(output, self.ops, self.seed, self._masks)

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._hooked = None
