"""Training defaults that depend on the device, kept free of torch so `stage train --help` can
show them at once. The models' own sizes, batches and learning rates are in training/zoo.py.
"""

from __future__ import annotations

# `stage train MODEL`: the names of training/zoo.py's MODELS (a test keeps them in step).
MODEL_NAMES = ("dcgan", "dcgan128", "dual", "vaegan", "wgan-unet")

# On a CPU, full-width networks at the papers' batches train at a few images a second (dcgan:
# 5.5-7 img/s, 23 s a step at batch 128 on 2 cores). These are the widths the shipped
# checkpoints were trained at (models/checkpoints/*.toml; dcgan 0.25: 223 img/s); every layer's
# channels are scaled, so the parameters fall as the square. A GPU takes the full width.
CPU_WIDTH = {"dcgan": 0.25, "dcgan128": 0.25, "dual": 0.5, "vaegan": 0.25, "wgan-unet": 0.25}
GPU_WIDTH = 1.0
CPU_MAX_BATCH = 64  # a CPU step at batch 64 is ~0.3 s for dcgan at width 0.25: lines come often
DEFAULT_STEPS = 10_000  # without --steps or --minutes


def default_width(model: str, device_type: str) -> float:
    """The channel scale for `model` on a device of `device_type` ("cpu", "cuda", ...)."""
    return CPU_WIDTH.get(model, 0.25) if device_type == "cpu" else GPU_WIDTH


def default_batch(model_batch: int, device_type: str) -> int:
    """The batch per process: the model's own on a GPU, at most CPU_MAX_BATCH on a CPU."""
    return min(model_batch, CPU_MAX_BATCH) if device_type == "cpu" else model_batch


def help_text() -> dict[str, str]:
    """The device-dependent defaults in words, for the command line's help."""
    cpu = ", ".join(f"{m} {w:g}" for m, w in CPU_WIDTH.items())
    return {
        "width": f"by device: on a CPU {cpu}; on a GPU {GPU_WIDTH:g}",
        "batch": f"by device: the model's own, at most {CPU_MAX_BATCH} on a CPU",
        "steps": f"{DEFAULT_STEPS}, or what fits --minutes",
    }
