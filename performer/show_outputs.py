"""The show file's `[[outputs]]`: where the frames go besides the screen — an NDI source for
the venue's video system, a virtual camera for OBS or a video call.

Read through `show.py`'s `_Reader` (passed in, so this module never imports `show`): every
problem names its key path and line, like the rest of the show file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("ndi", "virtualcam")


@dataclass(frozen=True)
class OutputEntry:
    kind: str  # ndi | virtualcam
    name: str = ""  # the NDI source name receivers see (default "latent-stage")
    width: int | None = None  # its own size (default: the show's output size)
    height: int | None = None
    alpha: bool = False  # NDI: send an alpha channel (opaque unless the picture has one)
    device: str | None = None  # virtual camera: e.g. /dev/video2 (default: the first)


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
        r.unknown(item, p, {"kind", "name", "width", "height", "alpha", "device"})
        kind = r.get(item, p, "kind", "string", choices=KINDS)
        width = r.get(item, p, "width", "int", None, lo=16, hi=7680)
        height = r.get(item, p, "height", "int", None, lo=16, hi=4320)
        if (width is None) != (height is None):
            r.problem(p, "give both width and height, or neither (the show's size)")
        name = r.get(item, p, "name", "string", "latent-stage" if kind == "ndi" else kind)
        alpha = r.get(item, p, "alpha", "bool", False)
        device = r.get(item, p, "device", "string", None)
        if kind is not None:  # (a bad kind is a problem already; the other keys are checked)
            out.append(OutputEntry(kind, name, width, height, alpha, device))
    return tuple(out)
