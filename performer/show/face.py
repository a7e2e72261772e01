"""The show file's `[face]` section and its mapping sets `[[face.mappings.NAME]]`.

Read through `show.py`'s `_Reader` (passed in, so this module never imports `show`): every
problem names its key path and line, like the rest of the show file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.inputs.face.features import FEATURES, FilterParams
from performer.inputs.face.mapping import OFF, TARGETS, FaceMapping

_NAME = re.compile(r"[A-Za-z_][\w\-]*")
_PARAM = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*")


@dataclass(frozen=True)
class FaceSpec:
    camera: int | Path = 0  # a device index, or a video file / still image
    width: int = 640  # capture size: larger frames are scaled down to fit
    height: int = 480
    fps: float = 30.0
    loop: bool = True  # a video file starts again at its end
    mirror: bool = False  # flip the camera image left-right (a selfie view)
    model: Path | None = None  # a Tasks-API face_landmarker.task; None: the bundled face mesh
    refine: bool = True  # 478 landmarks (irises) instead of 468
    enabled: bool = True  # face control on at the start (key v / OSC toggle it)
    mapping: str | None = None  # the mapping set of scenes that name none
    mappings: Mapping[str, tuple[FaceMapping, ...]] = field(default_factory=dict)
    filters: Mapping[str, FilterParams] = field(default_factory=dict)  # per feature
    ease_in: float = 0.5  # seconds for the face's contribution to come back when found
    ease_out: float = 1.0  # ... and to fade to nothing when lost
    lost_after: float = 0.25  # seconds without a face before it counts as lost
    stall: float = 2.0  # seconds on one frame before the watchdog restarts the tracker
    video_crop: str = "face"  # what the VAE encoder sees in video mode: "face" or "frame"
    # while the camera cannot be opened: True the moving test source, a clip/still, or False
    fallback: bool | Path = True


KEYS = {
    "camera",
    "width",
    "height",
    "fps",
    "loop",
    "mirror",
    "model",
    "refine",
    "enabled",
    "mapping",
    "mappings",
    "filter",
    "ease_in",
    "ease_out",
    "lost_after",
    "stall",
    "video_crop",
    "fallback",
}
FILTER_KEYS = {"min_cutoff", "beta", "d_cutoff"}


def read_scene_set(r: Any, sc: Mapping[str, Any], path: str, key: str, what: str) -> str | None:
    """A scene's choice of an input's mapping set (`face`, `audio`): a set's name, or `false`
    for none (OFF, ""); absent: None, the input's default set."""
    if key not in sc:
        return None
    value = sc[key]
    if value is False:
        return OFF
    if isinstance(value, str) and _NAME.fullmatch(value):
        return value
    r.problem(f"{path}.{key}", f"expected {what} name or false, got {value!r}")
    return None


def read_scene_face(r: Any, sc: Mapping[str, Any], path: str) -> str | None:
    """A scene's `face` key: a mapping set's name, or `false` for none; absent: the default."""
    return read_scene_set(r, sc, path, "face", "a mapping set")


def read_face(
    r: Any, data: Any, base: Path, scene_faces: list[tuple[int, str | None]], scene_names: list[str]
) -> FaceSpec | None:
    """The `[face]` section (None when the show has none). `scene_faces`: each scene's index
    and `face` value, to check the set names."""
    if data is None:
        for i, name in scene_faces:
            if name:
                r.problem(f"scenes[{i}].face", "the show has no [face] section")
        return None
    t = r.table(data, "face")
    r.unknown(t, "face", KEYS)
    d = FaceSpec()
    camera: int | Path = d.camera
    raw_camera = t.get("camera", 0)
    if isinstance(raw_camera, int) and not isinstance(raw_camera, bool) and raw_camera >= 0:
        camera = raw_camera
    elif isinstance(raw_camera, str) and raw_camera.strip():
        camera = (base / raw_camera).resolve()
    else:
        r.problem("face.camera", f"expected a device number ≥ 0 or a file path, got {raw_camera!r}")
    fallback: bool | Path = d.fallback
    raw_fallback = t.get("fallback", True)
    if isinstance(raw_fallback, bool):
        fallback = raw_fallback
    elif isinstance(raw_fallback, str) and raw_fallback.strip():
        fallback = (base / raw_fallback).resolve()
    else:
        r.problem("face.fallback", f"expected true, false or a file path, got {raw_fallback!r}")
    model = r.get(t, "face", "model", "string", None)
    sets = _mapping_sets(r, t.get("mappings", {}), scene_names)
    default = r.get(t, "face", "mapping", "string", None)
    if default is not None and default not in sets:
        r.problem("face.mapping", _no_set(default, sets))
    for i, name in scene_faces:
        if name and name not in sets:
            r.problem(f"scenes[{i}].face", _no_set(name, sets))
    return FaceSpec(
        camera=camera,
        width=r.get(t, "face", "width", "int", d.width, lo=16, hi=4096),
        height=r.get(t, "face", "height", "int", d.height, lo=16, hi=4096),
        fps=r.get(t, "face", "fps", "number", d.fps, lo=1, hi=240),
        loop=r.get(t, "face", "loop", "bool", d.loop),
        mirror=r.get(t, "face", "mirror", "bool", d.mirror),
        model=(base / model).resolve() if model else None,
        refine=r.get(t, "face", "refine", "bool", d.refine),
        enabled=r.get(t, "face", "enabled", "bool", d.enabled),
        mapping=default,
        mappings=sets,
        filters=_filters(r, t.get("filter", {})),
        ease_in=r.get(t, "face", "ease_in", "number", d.ease_in, lo=0, hi=60),
        ease_out=r.get(t, "face", "ease_out", "number", d.ease_out, lo=0, hi=60),
        lost_after=r.get(t, "face", "lost_after", "number", d.lost_after, lo=0, hi=10),
        stall=r.get(t, "face", "stall", "number", d.stall, lo=0.2, hi=60),
        video_crop=r.get(t, "face", "video_crop", "string", "face", choices=("face", "frame")),
        fallback=fallback,
    )


def _no_set(name: str, sets: Mapping[str, Any]) -> str:
    have = ", ".join(sets) if sets else "none ([[face.mappings.NAME]] tables)"
    return f"no mapping set {name!r}; the show has: {have}"


def _filters(r: Any, data: Any) -> dict[str, FilterParams]:
    t = r.table(data, "face.filter")
    r.unknown(t, "face.filter", FILTER_KEYS | set(FEATURES))

    def params(table: Mapping[str, Any], path: str, d: FilterParams) -> FilterParams:
        return FilterParams(
            min_cutoff=r.get(table, path, "min_cutoff", "number", d.min_cutoff, lo=0.001, hi=100),
            beta=r.get(table, path, "beta", "number", d.beta, lo=0, hi=1000),
            d_cutoff=r.get(table, path, "d_cutoff", "number", d.d_cutoff, lo=0.001, hi=100),
        )

    common = params(t, "face.filter", FilterParams())
    out = {}
    for name in FEATURES:
        if name in t:
            sub = r.table(t[name], f"face.filter.{name}")
            r.unknown(sub, f"face.filter.{name}", FILTER_KEYS)
            out[name] = params(sub, f"face.filter.{name}", common)
        else:
            out[name] = common
    return out


def _mapping_sets(r: Any, data: Any, scene_names: list[str]) -> dict[str, tuple[FaceMapping, ...]]:
    sets: dict[str, tuple[FaceMapping, ...]] = {}
    for name, rows in r.table(data, "face.mappings").items():
        path = f"face.mappings.{name}"
        if not _NAME.fullmatch(name) or name == OFF:
            r.problem(path, "a mapping set's name must be a plain word")
            continue
        if not isinstance(rows, list):
            r.problem(path, f"expected [[{path}]] tables, got {type(rows).__name__}")
            continue
        maps = [_mapping(r, row, f"{path}[{i}]", scene_names) for i, row in enumerate(rows)]
        sets[name] = tuple(m for m in maps if m is not None)
    return sets


def _mapping(r: Any, row: Any, p: str, scene_names: list[str]) -> FaceMapping | None:
    row = r.table(row, p)
    r.unknown(row, p, {"feature", "gain", "dead_zone", "curve", "clamp", *TARGETS})
    feature = r.get(row, p, "feature", "string", choices=tuple(FEATURES))
    targets = [k for k in TARGETS if k in row]
    if len(targets) != 1:
        r.problem(p, f"give exactly one target: {', '.join(TARGETS)} (got {len(targets)})")
        return None
    target = targets[0]
    value = row[target]
    ref: Any = None
    if target == "direction":
        whole = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        if whole or (isinstance(value, str) and value):
            ref = value
        else:
            r.problem(f"{p}.direction", f"expected a direction name or number ≥ 1, got {value!r}")
    elif target == "principal":
        ref = r.get(row, p, "principal", "int", None, lo=1, hi=512)
    elif target == "scenes":
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, str) and v in scene_names for v in value)
            and value[0] != value[1]
        ):
            ref = (value[0], value[1])
        else:
            r.problem(
                f"{p}.scenes",
                f"expected two different scene names [from, to], got {value!r};"
                f" scenes are: {', '.join(scene_names)}",
            )
    elif isinstance(value, str) and _PARAM.fullmatch(value):
        ref = value
    else:
        r.problem(f"{p}.param", f'expected a name like "grade.saturation", got {value!r}')
    clamp = row.get("clamp")
    bounds: tuple[float, float] | None = None
    if clamp is not None:
        if _number(clamp) and clamp >= 0:
            bounds = (-float(clamp), float(clamp))
        elif isinstance(clamp, list) and len(clamp) == 2 and all(map(_number, clamp)):
            bounds = (float(clamp[0]), float(clamp[1])) if clamp[0] <= clamp[1] else None
        if bounds is None:
            r.problem(f"{p}.clamp", f"expected a number ≥ 0 or [low, high], got {clamp!r}")
    gain = r.get(row, p, "gain", "number", 1.0, lo=-1000, hi=1000)
    dead = r.get(row, p, "dead_zone", "number", 0.0, lo=0, hi=0.99)
    curve = r.get(row, p, "curve", "number", 1.0, lo=0.05, hi=20)
    if feature is None or ref is None:
        return None
    return FaceMapping(feature, target, ref, gain, dead, curve, bounds)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
