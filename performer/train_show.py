"""The show `stage train` writes for a new model: the user's show (read with tomllib, never
written) plus the model, a "mirror" scene (live video through a VAE-GAN), a "face" scene the
performer's face steers and their mapping set, first in the cue list — or a show of its own —
written back as TOML (tomli-w, checked to read back the same)."""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

if TYPE_CHECKING:
    from performer.train_command import Plan

ENCODER_MODELS = ("vaegan",)  # exports with an encoder: live video through the model


def _free(name: str, taken: Sequence[str], model: str | None = None) -> str:
    """`name`, else MODEL-name, else name-2, -3 … — the first not taken."""
    if name not in taken:
        return name
    if model is not None and f"{model}-{name}" not in taken:
        return f"{model}-{name}"
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name}-{n}"
    return out


def face_set(model_dirs: int = 4) -> list[dict[str, Any]]:
    """The face scene's mapping set: turn, tilt, lean and mouth along the model's first four
    directions (its principal ones once `stage analyze` has named them)."""
    rows = [("yaw", 2.5, 0.05), ("roll", 2.5, 0.05), ("size", 2.0, 0.0), ("mouth_open", 1.5, 0.0)]
    out = []
    for i, (feature, gain, dead) in enumerate(rows[:model_dirs], 1):
        row: dict[str, Any] = {"feature": feature, "direction": i, "gain": gain}
        if dead:
            row["dead_zone"] = dead
        out.append(row)
    return out


def add_model(
    data: dict[str, Any],
    name: str,
    checkpoint: str,
    *,
    video: bool,
    video_crop: str = "face",
    camera: dict[str, Any] | None = None,
) -> tuple[str, list[str]]:
    """Add the model, its scenes and its face mapping set to a show's data (tomllib's dict);
    returns (the model's name, the new scenes' names, first in the cue list)."""
    models = data.setdefault("models", {})
    model = _free(name, list(models))
    models[model] = {"checkpoint": checkpoint}
    scenes = data.setdefault("scenes", [])
    originally = [s.get("name", f"scene {i + 1}") for i, s in enumerate(scenes)]
    face = data.get("face")
    if face is None:
        face = data["face"] = {"camera": 0, "fallback": True, "video_crop": video_crop}
        for key in ("width", "height", "mirror"):
            if camera and key in camera:
                face[key] = camera[key]
    sets = face.setdefault("mappings", {})
    if not sets and "mapping" not in face:  # their scenes were not steered: keep it so
        for s in scenes:
            s.setdefault("face", False)
    mapping = _free(model, list(sets))
    sets[mapping] = face_set()
    new: list[str] = []
    if video:
        mirror = _free("mirror", originally + new, model)
        scenes.append(
            {
                "name": mirror,
                "model": model,
                "seed": 0,
                "fade": 2.0,
                "face": False,
                "params": {"video.mix": 1.0},
            }
        )
        new.append(mirror)
    steered = _free("face", originally + new, model)
    scenes.append(
        {
            "name": steered,
            "model": model,
            "seed": 1,
            "drift": {"speed": 0.03, "amplitude": 0.3},
            "fade": 2.0,
            "face": mapping,
        }
    )
    new.append(steered)
    cues = data.setdefault("cues", {})
    order = cues.get("order", list(range(len(originally))))
    cues["order"] = [*new, *order]
    return model, new


def write_show(p: Plan, checkpoint: Path) -> Path:
    """The show that plays the new model: SHOW.NAME.toml beside --show, else RUN/show.toml."""
    camera = _capture_camera(p.capture)
    video_crop = "face" if _captured_faces(p.capture) or p.capture is None else "frame"
    header = [f"# Made by `stage train` for the model {checkpoint.name} ({p.out})."]
    if p.show is not None:
        text = p.show.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        path = _new_path(p.show.with_name(f"{p.show.stem}.{p.name}.toml"))
        header += [
            f"# It is {p.show.name} (unchanged; its comments are there) plus the model, a",
            "# mirror scene and a face scene, first in the cue list.",
        ]
        reh = data.setdefault("rehearsal", {})
        old_presets = p.show.parent / reh.get("presets", f"{p.show.stem}.presets.toml")
        reh["presets"] = f"{path.stem}.presets.toml"  # its own: its scenes name the new model
        new_presets = path.with_name(reh["presets"])
        if old_presets.is_file() and not new_presets.exists():
            new_presets.write_bytes(old_presets.read_bytes())
        face = data.get("face")
        if isinstance(face, dict) and face.get("video_crop", "face") != video_crop:
            print(
                f"stage train: {p.show.name} has video_crop = {face.get('video_crop', 'face')!r}"
                f" but the model learnt from {'faces' if video_crop == 'face' else 'whole frames'}",
                file=sys.stderr,
            )
    else:
        data = {
            "show": {"title": p.name},
            "output": {"width": 960, "height": 720, "fps": 30},
        }
        path = _new_path(p.out / "show.toml")  # (never over a show: a resumed run gets -2)
        header += ["# The model alone: the mirror (live video through it), then the face scene."]
    rel = os.path.relpath(checkpoint.resolve(), path.parent.resolve())
    add_model(
        data,
        p.name,
        Path(rel).as_posix(),
        video=p.model in ENCODER_MODELS,
        video_crop=video_crop,
        camera=camera,
    )
    text = "\n".join(header) + "\n\n" + tomli_w.dumps(data)
    if tomllib.loads(text) != data:
        raise ValueError("the written TOML does not read back the same (a bug)")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _new_path(path: Path) -> Path:
    out, n = path, 1
    while out.exists():
        n += 1
        out = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return out


def _captured_faces(record: dict[str, Any] | None) -> bool:
    takes = (record or {}).get("takes", [])
    return any(isinstance(t, dict) and t.get("faces_dir") for t in takes)


def _capture_camera(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The camera settings of the last take (the show's camera should match them)."""
    takes = [t for t in (record or {}).get("takes", []) if isinstance(t, dict)]
    if not takes:
        return None
    camera = takes[-1].get("settings", {}).get("camera")
    return camera if isinstance(camera, dict) else None
