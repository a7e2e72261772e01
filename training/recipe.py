"""What the training loop needs from a model family: its networks and optimizers, one training
step, the generators to average (EMA) and export. Also the device/precision plumbing every
recipe shares: autocast on CUDA, frozen networks, gradient all-reduce across processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def adam(
    params: Any, lr: float, betas: tuple[float, float], device: torch.device
) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch has it for the device (CPU and CUDA)."""
    params = list(params)  # both tries need them
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


@contextlib.contextmanager
def frozen(*nets: nn.Module) -> Iterator[None]:
    """No weight gradients for `nets` inside (gradients still flow through them to inputs)."""
    flags = [[p.requires_grad for p in n.parameters()] for n in nets]
    for n in nets:
        n.requires_grad_(False)
    try:
        yield
    finally:
        for n, fs in zip(nets, flags, strict=True):
            for p, f in zip(n.parameters(), fs, strict=True):
                p.requires_grad_(f)


class Recipe:
    """Base class. Subclasses fill `nets`, `optims`, `generators` and implement `step`."""

    kind: str = ""
    needs_data: bool = True
    generators: tuple[str, ...] = ("G",)  # averaged (EMA) and exported
    exported_raw: tuple[str, ...] = ()  # exported as trained (e.g. the VAE-GAN encoder)

    def __init__(self, config: Any, options: dict[str, Any], device: torch.device) -> None:
        self.config, self.options, self.device = config, options, device
        self.nets: dict[str, nn.Module] = {}
        self.optims: dict[str, torch.optim.Optimizer] = {}
        self.amp_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    # -- for the loop
    def images_per_step(self, batch: int) -> int:
        return batch * int(self.options.get("n_critic", 1))

    def step(self, next_batch: Callable[[], torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One generator update (and its critic updates); the losses as 0-d tensors."""
        raise NotImplementedError

    def sample(self, gens: dict[str, nn.Module], z: torch.Tensor) -> torch.Tensor:
        """Images for the sample grid from the (EMA) generators: (N, 3, S, S)."""
        return gens["G"](z)

    def z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    @property
    def z_dim(self) -> int:
        return int(self.nets[self.generators[0]].z_dim)

    # -- shared plumbing
    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def update(self, loss: torch.Tensor, *names: str) -> None:
        """Backward `loss` and step the optimizers of `names` (gradients averaged across
        processes first: the data-parallel all-reduce)."""
        for n in names:
            self.optims[n].zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        self.step_optimizers(names)

    def step_optimizers(self, names: Sequence[str]) -> None:
        """After the backward pass(es): average gradients across processes, step each net's
        optimizer (through the AMP scaler when there is one)."""
        if self.world > 1:
            self._all_reduce([p for n in names for p in self.nets[n].parameters()])
        for n in names:
            if self.scaler is not None:
                self.scaler.step(self.optims[n])
            else:
                self.optims[n].step()
        if self.scaler is not None:
            self.scaler.update()

    def _all_reduce(self, params: list[nn.Parameter]) -> None:
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        i = 0
        for g in grads:
            g.copy_(flat[i : i + g.numel()].view_as(g))
            i += g.numel()
