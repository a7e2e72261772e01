"""A run's TensorBoard files: written by `torch.utils.tensorboard.SummaryWriter` (the
`tensorboard` package), read back with TensorBoard's own event reader. `tensorboard --logdir
runs/` shows the losses, the figures and the sample grids.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


def open_writer(logdir: str | os.PathLike) -> SummaryWriter:
    """A writer for one event file in `logdir` (made if missing)."""
    from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: ~1.5 s

    Path(logdir).mkdir(parents=True, exist_ok=True)
    return SummaryWriter(str(logdir), flush_secs=30)


def read_scalars(path: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in an event file (or a folder of them), by tag: [(step, value)], read by
    TensorBoard's EventAccumulator (every event kept, none sampled away)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
