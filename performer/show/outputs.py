"""The show file's `[[outputs]]`: the windows (the projector's clean program, the operator's
preview with the HUD) and where the frames go besides — an NDI source for the venue's video
system, a virtual camera for OBS or a video call.

Read through `show.py`'s `_Reader` (passed in, so this module never imports `show`): every
problem names its key path and line, like the rest of the show file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("window", "ndi", "virtualcam")
ROLES = ("program", "preview")


@dataclass(frozen=True)
class OutputEntry:
    kind: str  # ndi | virtualcam
    name: str = ""  # the NDI source name receivers see (default "latent-stage")
    width: int | None = None  # its own size (default: the show's output size)
    height: int | None = None
    alpha: bool = False  # NDI: send an alpha channel (opaque unless the picture has one)
    device: str | None = None  # virtual camera: e.g. /dev/video2 (default: the first)
    role: str = "program"  # window: the projector's clean picture, or the operator's preview
    monitor: int | None = None  # window: which monitor (program: over [output] monitor)
    fullscreen: bool | None = None  # window: fullscreen on it (program: over [output] mode)
    status: bool | None = None  # window: the status mark on it (program default: off with a
    # preview, which always has it)
    enabled: bool = True  # a preview entry with enabled = false: no preview even with 2 screens


def read_outputs(r: Any, data: Any) -> tuple[OutputEntry, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        r.problem("outputs", "expected [[outputs]] tables (an array of tables)")
        return ()
    out: list[OutputEntry] = []
    for i, item in enumerate(data):
        p = f"outputs[{i}]"
        item = r.table(item, p)
        r.unknown(
            item,
            p,
            {"kind", "name", "width", "height", "alpha", "device"}
            | {"role", "monitor", "fullscreen", "status", "enabled"},
        )
        kind = r.get(item, p, "kind", "string", choices=KINDS)
        width = r.get(item, p, "width", "int", None, lo=16, hi=7680)
        height = r.get(item, p, "height", "int", None, lo=16, hi=4320)
        if (width is None) != (height is None):
            r.problem(p, "give both width and height, or neither (the show's size)")
        name = r.get(item, p, "name", "string", "latent-stage" if kind == "ndi" else kind)
        alpha = r.get(item, p, "alpha", "bool", False)
        device = r.get(item, p, "device", "string", None)
        role = r.get(item, p, "role", "string", "program", choices=ROLES)
        window = {
            "role": role,
            "monitor": r.get(item, p, "monitor", "int", None, lo=0, hi=15),
            "fullscreen": r.get(item, p, "fullscreen", "bool", None),
            "status": r.get(item, p, "status", "bool", None),
            "enabled": r.get(item, p, "enabled", "bool", True),
        }
        if kind != "window" and any(k in item for k in window):
            r.problem(p, f"role, monitor, fullscreen, status, enabled are for windows, not {kind}")
        if kind is not None:  # (a bad kind is a problem already; the other keys are checked)
            out.append(OutputEntry(kind, name, width, height, alpha, device, **window))
    windows = [e for e in out if e.kind == "window"]
    for role in ROLES:
        if sum(e.role == role for e in windows) > 1:
            r.problem("outputs", f"more than one {role} window")
    return tuple(out)
