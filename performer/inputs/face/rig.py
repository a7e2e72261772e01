"""The face in a running show: camera → tracker → features → `FaceControl`, once a frame.

`open_face` builds it for a Stage; the rig answers face cues, draws the rehearsal preview and
HUD lines, and hands the engine camera crops for video mode; `health_sources()` are its camera's
and tracker's health reports for the Stage to poll. `check_face`: `stage check`'s part.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from performer.core.health import PartHealth
from performer.inputs import Reading
from performer.inputs.face.camera import (
    Camera,
    FallbackOpener,
    describe,
    open_capture,
    parse_source,
)
from performer.inputs.face.crop import crop as crop  # (re-exported: scripts/face_dataset.py)
from performer.inputs.face.crop import video_crop
from performer.inputs.face.features import FeaturePipeline
from performer.inputs.face.mapping import OFF, FaceControl, FaceMapping, ParamRange, unit
from performer.inputs.face.test_source import open_test_source
from performer.inputs.face.tracker import FaceTracker, backend_factory
from performer.show.face import FaceSpec

log = logging.getLogger("stage.face")

VIDEO_MIX = "video.mix"  # the engine parameter: 0 the face-driven latent … 1 the camera's
_PC = re.compile(r"^(?:pc|principal)[_\-]?(\d+)$", re.IGNORECASE)
PREVIEW_WIDTH = 224


def principal_names(names: list[str]) -> list[str]:
    """A checkpoint's principal directions ("pc1", "pc_2", "principal3" …) in order."""
    found = [(int(m.group(1)), n) for n in names if (m := _PC.match(n))]
    return [n for _, n in sorted(found)]


def make_resolver(controller: Any, named: Mapping[str, Mapping[str, np.ndarray]]):
    """Latent vectors for mappings: named and principal directions (unit length, from the
    checkpoint), numbered ones (the controller's nudge directions), scene-to-scene vectors."""

    def resolve(m: FaceMapping, model: str) -> np.ndarray | None:
        dirs = named.get(model, {})
        if m.target == "direction" and isinstance(m.ref, str):
            return unit(dirs[m.ref]) if m.ref in dirs else None
        if m.target == "direction":
            rows = controller.directions.get(model)
            return rows[m.ref - 1] if rows is not None and m.ref <= len(rows) else None
        if m.target == "principal":
            pcs = principal_names(list(dirs))
            return unit(dirs[pcs[m.ref - 1]]) if m.ref <= len(pcs) else None
        if m.target == "scenes":
            a, b = (controller.show.scene_index(n) for n in m.ref)
            return (
                controller.target_for(controller.show.scenes[b]).anchor
                - controller.target_for(controller.show.scenes[a]).anchor
            )
        return None

    return resolve


def fallback_opener(spec: FaceSpec) -> FallbackOpener | None:
    """What the camera shows while its own source cannot be opened (the show's `fallback`)."""
    if spec.fallback is True:
        return open_test_source
    if isinstance(spec.fallback, Path):
        path, loop = spec.fallback, spec.loop
        return lambda w, h, fps: open_capture(path, w, h, fps, loop)
    return None


class FaceRig:
    """Owns the camera and tracker threads; everything else runs on the main thread."""

    def __init__(
        self,
        spec: FaceSpec,
        control: FaceControl,
        *,
        camera: int | str | Path | None = None,
        always: bool = False,
    ) -> None:
        self.spec, self.control = spec, control
        # track even when no scene's mapping plays: the face is sent out over OSC, or the
        # rehearsal screen shows it
        self.always = always
        source = parse_source(camera) if camera is not None else spec.camera
        self.tracker: FaceTracker | None = None
        self.camera = Camera(
            source,
            width=spec.width,
            height=spec.height,
            fps=spec.fps,
            loop=spec.loop,
            mirror=spec.mirror,
            fallback=fallback_opener(spec),
        ).start()
        self.tracker = FaceTracker(
            self.camera, backend_factory(spec.model, spec.refine), stall_s=spec.stall
        ).start()
        self.pipeline = FeaturePipeline(spec.filters)
        self.features: dict[str, float] | None = None  # smoothed, while the face is present
        self.sample = None  # the latest FaceSample used
        self._seen: float | None = None
        self._preview: np.ndarray | None = None
        self._preview_index = -1
        self._crop: tuple[tuple[int, int], np.ndarray] | None = None  # per frame and sample
        self.message = ""
        self._video_face_at = -1e9  # when live video last cropped to the face

    @property
    def present(self) -> bool:
        return self.features is not None

    name = "face"

    def poll(self, t: float, dt: float) -> tuple[list, list[Reading]]:
        """Once a frame, before the controller steps: the newest face reading, as a Reading
        when it is new (a new sample from the tracker, or the face just lost)."""
        now = time.perf_counter()
        if self.tracker is not None:  # idle while nothing needs the face (CPU for the show)
            self.tracker.wanted = (
                self.always or self.control.in_use or now - self._video_face_at < VIDEO_HOLD_S
            )
        readings: list[Reading] = []
        s = self.tracker.latest() if self.tracker else None
        if s is not None and (self.sample is None or s.index != self.sample.index):
            self.sample = s
            if s.raw is not None:
                if self._seen is None and self.control.level == 0.0:
                    self.pipeline.reset()  # back after a loss: start the filters afresh
                self.pipeline.update(s.raw, s.t)
                self._seen = s.t
                readings.append(Reading("face", dict(self.pipeline.values), "camera"))
        if self._seen is not None and now - self._seen > self.spec.lost_after:
            self._seen = None
            readings.append(Reading("face", None, "camera"))
        self.features = self.pipeline.values if self._seen is not None else None
        return [], readings

    def overlay(self) -> np.ndarray | None:
        """The camera picture with the landmarks, for the rehearsal screen."""
        return self.preview()

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        """The camera's and the face tracker's health reports, by part name (the Stage polls
        them a few times a second)."""
        sources: dict[str, Callable[[], PartHealth]] = {"camera": self.camera.health}
        if self.tracker is not None:
            sources["face"] = self.tracker.health
        return sources

    # -- cues
    def cue(self, action: str, args: tuple) -> str:
        """ "calibrate": the performer's pose now is neutral; returns a line for the HUD."""
        if action == "calibrate":
            if self.pipeline.calibrate():
                self.message = "face: neutral pose calibrated"
            else:
                self.message = "face: no face to calibrate on"
            log.info(self.message)
            return self.message
        return ""

    # -- rehearsal
    def hud_lines(self) -> list[str]:
        c, f = self.control, self.features
        cam = self.camera
        state = f"camera {cam.name} {cam.state}"
        if cam.state == "test":
            state = f"camera {cam.name} unavailable: showing the test source"
        tr = self.tracker
        times = sorted(list(tr.times)[-60:]) if tr else []
        ms = f"{times[len(times) // 2] * 1000:.1f} ms" if times else "-"
        lines = [
            f"face {'on' if c.enabled else 'OFF'} level {c.level:.2f}"
            f"  set {c.active or '(none)'}  {state}  tracker {ms}"
            + (f"  restarts {tr.restarts}" if tr and tr.restarts else ""),
        ]
        if tr is not None and not tr.wanted:
            lines.append("  tracker idle: no scene's face mapping plays")
        elif f is None:
            lines.append("  no face" + (" (holding last, easing out)" if c.level > 0 else ""))
        else:
            lines.append(
                f"  yaw {f['yaw']:+4.0f} pitch {f['pitch']:+4.0f} roll {f['roll']:+4.0f}"
                f"  x {f['x']:+.2f} y {f['y']:+.2f} size {f['size']:+.2f}"
            )
            lines.append(
                f"  mouth {f['mouth_open']:.2f} smile {f['smile']:+.2f}"
                f" eyes {f['eye_l']:.2f}/{f['eye_r']:.2f} brow {f['brow']:+.2f}"
            )
        outs = c.outputs(c.active) if c.active != OFF else []
        if outs:
            lines.append("  " + "  ".join(f"{m.label} {v:+.2f}" for m, v in outs[:4]))
        return lines

    def preview(self) -> np.ndarray | None:
        """A small RGB picture of the camera with the landmarks drawn on it (cached)."""
        frame = self.camera.latest()
        if frame is None:
            return None
        if frame.index == self._preview_index and self._preview is not None:
            return self._preview
        h, w = frame.image.shape[:2]
        pw = PREVIEW_WIDTH
        ph = max(1, round(h * pw / w))
        img = cv2.resize(frame.image, (pw, ph), interpolation=cv2.INTER_AREA)
        s = self.sample
        if s is not None and s.landmarks is not None and self.features is not None:
            xy = (s.landmarks[:, :2] * (pw, ph)).astype(np.int32)
            ok = (xy[:, 0] >= 0) & (xy[:, 0] < pw) & (xy[:, 1] >= 0) & (xy[:, 1] < ph)
            img[xy[ok, 1], xy[ok, 0]] = (80, 255, 120)
        self._preview, self._preview_index = img, frame.index
        return img

    # -- video through the VAE
    def video(self, params: Mapping[str, float]) -> tuple[np.ndarray, float] | None:
        """(camera crop, mix) for the engine when the show asks for video, else None. The same
        crop is the same array object until the camera or tracker has news (the engine's
        encoder caches by it)."""
        mix = float(params.get(VIDEO_MIX, 0.0))
        frame = self.camera.latest()
        if mix <= 0.0 or frame is None:
            return None
        s = self.sample if self.spec.video_crop == "face" else None
        if self.spec.video_crop == "face":  # the crop follows the face: keep tracking it
            self._video_face_at = time.perf_counter()
        key = (frame.index, s.index if s is not None else -1)
        if self._crop is None or self._crop[0] != key:
            marks = s.landmarks if s is not None else None
            square = video_crop(frame.image, marks, self.spec.video_crop)
            self._crop = key, np.ascontiguousarray(square)
        return self._crop[1], min(mix, 1.0)

    def close(self) -> None:
        for part in (self.tracker, self.camera):
            if part is not None:
                part.close()


VIDEO_HOLD_S = 1.0  # live video cropped to the face keeps the tracker on this long after


def open_face(stage: Any, models: Mapping[str, Any]) -> FaceRig | None:
    """The face for a Stage: its controller gets a FaceControl, the Stage a running FaceRig
    (None in a replay: the performance's face readings play instead)."""
    spec: FaceSpec | None = getattr(stage.show, "face", None)
    camera = getattr(stage.opts, "camera", None)
    performance = getattr(stage, "performance", None)
    if spec is None and performance is not None and performance.has_face:
        log.warning("%s has face readings, but the show has no [face]", performance.path)
    if spec is None:
        if camera is None:
            return None
        log.warning("--camera %s: the show has no [face] section, the face steers nothing", camera)
        spec = FaceSpec()
    named = {
        name: {k: v.numpy() for k, v in getattr(m, "directions", {}).items()}
        for name, m in models.items()
    }
    ranges = {k: ParamRange(s.default, s.min, s.max) for k, s in stage.display.param_specs.items()}
    try:
        from performer.core.automation import ENGINE_PARAMS

        ranges.update({k: ParamRange(s.default, s.min, s.max) for k, s in ENGINE_PARAMS.items()})
    except ImportError:
        pass
    control = FaceControl(
        spec.mappings,
        spec.mapping,
        make_resolver(stage.controller, named),
        ease_in=spec.ease_in,
        ease_out=spec.ease_out,
        params=ranges,
        enabled=spec.enabled,
    )
    control.switch(stage.controller.scene.face, 0.0)
    stage.controller.face = control
    if performance is not None:  # a replay: the logged readings come from ReplayInput
        return None
    osc = getattr(stage.show, "osc", None)
    always = bool(
        getattr(stage.opts, "rehearse", False)  # the rehearsal screen shows the face
        or (osc is not None and osc.enabled and (osc.face_features or osc.faceosc))
    )
    return FaceRig(spec, control, camera=camera, always=always)


def check_face(show: Any, opened: Mapping[str, Any] | None = None) -> list[str]:
    """`stage check`: the camera source opens, the model file exists, every mapping resolves
    in every checkpoint that plays it, and video scenes have an encoder. `opened`: the show's
    checkpoints already opened by name (else opened here)."""
    from models.checkpoint import CheckpointError
    from performer.engine.worker import open_model

    spec: FaceSpec | None = getattr(show, "face", None)
    problems: list[str] = []
    wanted = {i for i, sc in enumerate(show.scenes) if sc.params.get(VIDEO_MIX, 0) > 0}
    wanted |= {st.scene for st in getattr(show, "cue_steps", ()) if st.params.get(VIDEO_MIX, 0) > 0}
    if show.params.get(VIDEO_MIX, 0) > 0:
        wanted = set(range(len(show.scenes)))
    video = [(i, show.scenes[i]) for i in sorted(wanted)]
    models = {sc.model for _, sc in video} | (
        {sc.model for sc in show.scenes} if spec and spec.mappings else set()
    )
    loaded = {}
    for m in show.models:
        if m.name in models and opened is not None:
            if m.name in opened:  # (else reported by the checkpoint check)
                loaded[m.name] = opened[m.name]
        elif m.name in models:
            with contextlib.suppress(CheckpointError):  # reported by the checkpoint check
                loaded[m.name] = open_model(m.checkpoint)
    for i, sc in video:
        if sc.model in loaded and "E" not in loaded[sc.model].parts:
            problems.append(
                f"scenes[{i}]: video mode ({VIDEO_MIX} > 0) needs a VAE-GAN checkpoint with an"
                f" encoder; {loaded[sc.model].path.name} ({loaded[sc.model].kind}) has none"
            )
    if spec is None:
        return problems
    files = [("camera", spec.camera), ("fallback", spec.fallback)]
    for key, source in files:
        if not isinstance(source, Path):
            continue
        try:
            cap, _ = open_capture(source, spec.width, spec.height, spec.fps, False)
            ok, _ = cap.read()
            cap.release()
            if not ok:
                problems.append(f"face.{key}: {source}: no frame could be read")
        except OSError as e:
            problems.append(f"face.{key}: {e}")
    if not isinstance(spec.camera, Path):
        log.info("face.camera: %s is opened when the show starts", describe(spec.camera))
    if spec.model is not None and not spec.model.is_file():
        problems.append(f"face.model: no such file {spec.model}")
    default = spec.mapping if spec.mapping is not None else next(iter(spec.mappings), None)
    params = _param_names(show)
    for name, maps in spec.mappings.items():
        users = {s.model for s in show.scenes if (default if s.face is None else s.face) == name}
        for j, m in enumerate(maps):
            where = f"face.mappings.{name}[{j}]"
            if m.target == "param" and params is not None and m.ref not in params:
                problems.append(f"{where}.param: no parameter {m.ref!r} in the shader chain")
            for model in sorted(users & set(loaded)):
                error = _unresolved(m, loaded[model], show.rehearsal.directions)
                if error:
                    problems.append(f"{where}: {error} (model {model!r})")
    return problems


def _param_names(show: Any) -> set[str] | None:
    from performer.render.shaders import shader_params

    names: set[str] = set()
    try:
        for program in show.programs:
            names |= {f"{program}.{k}" for k in shader_params(program, show.shader_dir)}
    except Exception:
        return None  # the shader check reports it
    try:
        from performer.core.automation import ENGINE_PARAMS

        names |= set(ENGINE_PARAMS)
    except ImportError:
        pass
    return names | {VIDEO_MIX}


def _unresolved(m: FaceMapping, loaded: Any, keys: int) -> str | None:
    names = list(loaded.directions)
    if m.target == "direction" and isinstance(m.ref, str) and m.ref not in names:
        have = ", ".join(names) if names else "none (run the latent analysis)"
        return f"no direction {m.ref!r} in {loaded.path.name}; it has: {have}"
    count = min(len(names), keys) if names else keys  # as the Stage numbers them
    if m.target == "direction" and isinstance(m.ref, int) and m.ref > count:
        return f"direction {m.ref}: there are {count} numbered directions (rehearsal.directions)"
    if m.target == "principal" and m.ref > len(principal_names(names)):
        return (
            f"principal direction {m.ref}: {loaded.path.name} has"
            f" {len(principal_names(names))} (named pc1, pc2, … by the latent analysis)"
        )
    return None
