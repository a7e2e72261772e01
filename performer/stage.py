"""The render loop: keys → control → latent → engine → display → (recording), once a frame.

Real time: the engine decodes on its worker and the loop shows the newest finished frame,
paced by one clock (performer/core/pacer.py: vsync where it paces, else the loop's deadline)
every refresh or every 2nd/3rd — the Scheduler's choice by measurement, for the most new
images — counting frames that miss their deadline. Offline: a fixed time
step and one decode per frame, for exact renders. Every exit path closes the recording.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from performer.core.control import Controller, Cue
from performer.core.frame_stats import FrameStats
from performer.core.health import DEGRADED, FAILED, OK, Health, PartHealth, where_raised
from performer.core.latent import orthonormal_directions
from performer.core.pacer import Pacer, Plan, Scheduler, plans
from performer.core.watchdog import ShutdownGuard, StallWatch
from performer.engine.anchors import anchor_scenes
from performer.engine.worker import Engine, open_model
from performer.inputs import Inputs, Reading
from performer.inputs.audio import AudioInput
from performer.inputs.face.rig import FaceRig, open_face
from performer.inputs.keyboard import Keyboard, KeyboardInput
from performer.inputs.midi import MidiInput
from performer.inputs.osc.link import OscLink, direction_addresses, take_path
from performer.inputs.osc.space import AddressSpace
from performer.inputs.replay import Performance, ReplayInput, check_target
from performer.outputs import Frame, Output, Outputs, build_outputs
from performer.outputs.feedback import Feedback, FeedbackOutput
from performer.outputs.midi_out import MidiFeedbackOutput
from performer.outputs.record import EventLog, FrameLog, Recorder
from performer.render.display import Display, PreviewSpec
from performer.show import Scene, Show, save_preset
from performer.show.audio import AudioSpec
from performer.show.midi import MidiSpec
from performer.show.osc import OscMapping
from performer.show.outputs import OutputEntry

log = logging.getLogger("stage")


@dataclass
class RunOptions:
    headless: bool = False
    seconds: float | None = None
    frames: int | None = None
    record: Path | None = None
    offline: bool = False  # fixed time step, decode every frame, no pacing
    rehearse: bool = False
    device: str = "auto"
    threads: int | None = None
    width: int | None = None
    height: int | None = None
    camera: str | None = None  # --camera: a device number or a file, over the show's [face]
    frame_log: Path | None = None  # --frame-log: one CSV row of timings per frame
    osc_port: int | None = None  # --osc-port: over the show's [osc] port
    replay: Path | None = None  # an event log: its cues and face readings drive the show
    progress: bool = False  # offline: a progress line every few seconds (nobody is watching)
    verbose: bool = False  # native libraries' own logging (FFmpeg, MediaPipe) too
    ndi: str | None = None  # --ndi NAME: also send the output as an NDI source of that name
    virtualcam: bool = False  # --virtualcam: also send it to a virtual camera
    preview: bool = False  # --preview: the operator's window even with one monitor
    midi: str | None = None  # --midi FILE|PORT: MIDI in (over the show's [midi] port)
    audio: str | None = None  # --audio FILE|DEVICE: sound in (over the show's [audio] source)
    present_every: int | None = None  # present every Nth refresh; None: chosen by measurement


STALL_S = 0.25  # no frame presented for this long (real time) is a stall, logged with its cause
HEALTH_EVERY = 0.25  # seconds between polls of every part's health
FEEDBACK_EVERY = 1.0  # seconds between OSC health reports (changes go at once)
FAILING_S = 5.0  # every frame raising for this long (and 10 frames at least) ends the show
DISK_LOW_MB = (64, 512)  # free space where recordings go: failed below, degraded below


class Stage:
    """One run of a show: owns the engine, display, recorder and event log."""

    def __init__(self, show: Show, opts: RunOptions) -> None:
        self.show, self.opts = show, opts
        self.engine: Engine | None = None
        self.display: Display | None = None
        self.recorder: Recorder | None = None
        self.events: EventLog | None = None
        self.frame_log: FrameLog | None = None
        self.face: FaceRig | None = None
        self.osc: OscLink | None = None
        self.inputs = Inputs()
        self.feedback: FeedbackOutput | None = None
        self.outputs = Outputs()
        self._shown: tuple[str, np.ndarray] | None = None  # model on screen, its last image
        self._shown_chain: tuple[str, ...] | None = None  # the shader chain on screen
        self.health = Health()
        self.stall = StallWatch(threshold=STALL_S)
        self._health_at = self._feedback_at = -1e9
        self._disk: tuple[float, PartHealth] | None = None
        self._run_state: _Run | None = None
        self._pacer: Pacer | None = None
        self._schedule: Scheduler | None = None
        self._playing_since: float | None = None  # when the first run began
        self._hud_fresh: tuple[float, int] = (0.0, 0)  # (show time, fresh count) at the last HUD
        self._fresh_rate = 0.0
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        show, opts = self.show, self.opts
        self.performance: Performance | None = None
        if opts.replay is not None:  # first: a bad log fails before anything heavy opens
            self.performance = Performance(opts.replay)
            check_target(self.performance, opts.record)
            self.opts = opts = dataclasses.replace(opts, offline=True)
        used = {s.model for s in show.scenes}
        models = {
            m.name: open_model(m.checkpoint, class_index=m.class_index, truncation=m.truncation)
            for m in show.models
            if m.name in used
        }
        show, problems = anchor_scenes(show, models)  # scenes anchored on a picture
        for problem in problems:
            log.warning("%s; the scene starts from a seed instead", problem)
        self.show = show
        self.engine = Engine(
            models,
            device=opts.device,
            threads=opts.threads,
            layouts={m.name: m.layout for m in show.models},
        )
        self.engine.warm_up()
        directions = {}
        for name, m in models.items():
            named = list(m.directions.values())[: show.rehearsal.directions]
            dim = self.engine.z_dims[name]
            if named:
                directions[name] = np.stack([d.numpy() / max(float(d.norm()), 1e-8) for d in named])
            else:
                directions[name] = orthonormal_directions(dim, show.rehearsal.directions)
        self.controller = Controller(show, self.engine.z_dims, directions)
        self.controller.direction_names = {
            name: list(m.directions)[: show.rehearsal.directions] for name, m in models.items()
        }
        out = show.output
        self.size = (opts.width or out.width, opts.height or out.height)
        program, preview = windows(show, opts)
        full = out.mode == "fullscreen"
        self.display = Display(
            width=self.size[0],
            height=self.size[1],
            chain=show.chain,
            chains=[s.chain for s in show.scenes if s.chain is not None],
            shader_dir=show.shader_dir,
            headless=opts.headless,
            title=f"latent-stage — {show.title}",
            fullscreen=program.fullscreen if program.fullscreen is not None else full,
            monitor=out.monitor if program.monitor is None else program.monitor,
            vsync=out.vsync,
            effects_scale=out.effects_scale,
            preview=preview,
            program_status=program.status,
        )
        self.outputs = Outputs(make_outputs(show, opts))
        self.outputs.open(self.size, out.fps)
        if opts.record:
            self.recorder = self._recorder(opts.record)
            self.outputs.add(self.recorder)
            self.events = EventLog(opts.record.with_suffix(".events.jsonl"))
            self.events.log(0.0, "start", show=show.path.resolve(), size=list(self.size))
        if opts.frame_log:
            self.frame_log = FrameLog(opts.frame_log)
            self.outputs.add(self.frame_log)
        self.stats = FrameStats(budget=1.0 / out.fps)
        self.hud_on = opts.rehearse or self.display.has_preview  # (the program stays clean)
        self.follow_on = not opts.rehearse  # rehearsal stays where the artist puts it
        self.last_target: str | None = None  # the address MIDI learn maps (see `learn`)
        self.message = ""
        self.last_cue_t = 0.0
        self._hud: list[str] = []
        self._hud_at = -1.0
        if self.performance is not None:  # the performance's cues and face, and only those
            self.inputs.add(ReplayInput(self.performance))
        else:
            keyboard = Keyboard(show.rehearsal.nudge, show.rehearsal.directions)
            self.inputs.add(KeyboardInput(self.display, keyboard, help_lines=opts.rehearse))
        self.face = open_face(self, models)  # camera, tracker, mappings; None without [face]
        self.inputs.add(self.face)
        if opts.osc_port is not None:
            self.show = show = dataclasses.replace(
                show, osc=dataclasses.replace(show.osc, port=opts.osc_port)
            )
        # OSC never fails the show: a busy port is logged, OSC stays off. Not in a replay.
        if show.osc.enabled and self.performance is None:
            dirs = direction_addresses(self.controller, show.rehearsal.directions)
            self.osc = OscLink(show, self.controller, self.display.param_specs, dirs)
            self.inputs.add(self.osc)
            spec = show.osc
            if spec.feedback:
                feedback = Feedback(
                    spec.feedback_host,
                    spec.feedback_port,
                    spec.face_features,
                    spec.faceosc,
                    audio_features=spec.audio_features,
                )
                self.feedback = FeedbackOutput(feedback)
                self.outputs.add(self.feedback)
        midi = show.midi
        if opts.midi:  # --midi FILE|PORT: over the show's [midi] port (its maps stay)
            midi = dataclasses.replace(midi or MidiSpec(), port=opts.midi)
        if midi is not None and self.performance is None:  # (a replay has the cues already)
            self.inputs.add(MidiInput(midi, self.address_space, presets=show.rehearsal.presets))
            if midi.wants_feedback:  # motor faders and pad lights follow the show
                feedback_out = MidiFeedbackOutput(midi, params=self.display.param_specs)
                self.outputs.add(feedback_out)
                self.outputs.open_one(feedback_out, self.size, show.output.fps)
        audio = show.audio
        if opts.audio:  # --audio FILE|DEVICE: over the show's [audio] source (its maps stay)
            source = audio_source(opts.audio)
            file, device = (source, None) if isinstance(source, Path) else (None, source)
            audio = dataclasses.replace(audio or AudioSpec(), file=file, device=device)
        if audio is not None and audio.enabled and self.performance is None:
            self.inputs.add(AudioInput(audio, self.address_space, lambda: self.controller.scene))

    def address_space(self, maps: Sequence[OscMapping] = ()) -> AddressSpace:
        """The stage's address table with `maps` of an input's own (MIDI, audio): the same
        addresses, ranges and triggers as OSC, so every input maps onto one vocabulary."""
        c = self.controller
        return AddressSpace(
            scenes=lambda: [s.name for s in c.show.scenes],
            cue_count=lambda: len(c.show.cues),
            params=self.display.param_specs,
            directions=direction_addresses(c, self.show.rehearsal.directions),
            maps=maps,
        )

    # -- cues
    def apply(self, cue: Cue, t: float) -> bool:
        """Apply a cue; False when it asks the show to end."""
        if self.events:
            self.events.log(t, "cue", action=cue.action, args=list(cue.args), source=cue.source)
        if cue.action == "scene" and isinstance(cue.args[0], int):
            count = len(self.show.scenes)
            if not 0 <= cue.args[0] < count:  # a number key past the last scene
                self.message = f"no scene {cue.args[0] + 1}: the show has {count}"
                return True
        if cue.action in ("next", "prev", "cue", "scene"):
            self.last_cue_t = t
        if cue.action == "nudge":  # what MIDI learn would map: the direction last nudged …
            self.last_target = f"/stage/latent/{int(cue.args[0]) + 1}"
        elif cue.action == "param" and cue.source != "midi":  # … or the parameter last set
            self.last_target = f"/stage/param/{cue.args[0]}"
        try:
            if not self.controller.apply(cue):
                if cue.action == "freeze":
                    self.message = "freeze" if self.controller.latent.frozen else "unfreeze"
                elif cue.action not in ("nudge", "param", "offset", "z", "beat"):
                    self.message = f"{cue.action} {' '.join(map(str, cue.args))}".strip()
                return True
        except (ValueError, TypeError, IndexError, KeyError, StopIteration) as e:
            self.message = f"ignored cue {cue.action} {cue.args}: {e}"
            log.warning(self.message)
            return True
        if cue.action == "quit":
            return False
        if cue.action == "follow":
            self.set_follow(not self.follow_on, t)
        if cue.action == "hud":
            self.hud_on = not self.hud_on
        elif cue.action == "fullscreen":
            self.display.toggle_fullscreen()
        elif cue.action == "reload":
            errors = self.display.reload_shaders()
            self.message = "; ".join(errors) if errors else "shaders reloaded"
            for e in errors:
                log.error("%s", e)
        elif cue.action == "save":
            self.save_point()
        elif cue.action == "record":
            self.set_recording(bool(cue.args[0]) if cue.args else self.recorder is None)
        elif cue.action == "face":
            self.message = self.controller.toggle_face(cue.args)
        elif cue.action == "calibrate":
            face = self.face or self.inputs.get("replay")
            self.message = face.cue("calibrate", ()) if face else "no [face] here"
        elif cue.action == "learn":
            self.message = self.learn()
        return True

    def learn(self) -> str:
        """MIDI learn: the next knob moved is mapped to the address last nudged or set."""
        midi = self.inputs.get("midi")
        if midi is None or not hasattr(midi, "learn"):
            return "MIDI learn: no MIDI input ([midi] in the show, or --midi)"
        if self.last_target is None:
            return "MIDI learn: nudge a direction (or set a parameter) first, then press l"
        return midi.learn(self.last_target)

    def read(self, reading: Reading, t: float) -> None:
        """An input's new reading: to the event log (a replay reads it back), then the
        Controller."""
        if self.events and reading.kind == "face":
            f = reading.value
            values = {"lost": True} if f is None else {k: round(v, 4) for k, v in f.items()}
            self.events.log(t, "face", **values)
        if self.events and reading.kind == "audio" and reading.value:
            # (AudioInput reads once a frame at most, with the onsets since its last poll)
            values = {k: round(float(v), 4) for k, v in reading.value.items()}
            self.events.log(t, "audio", **values)
        self.controller.read(reading.kind, reading.value)

    def set_follow(self, on: bool, t: float) -> None:
        """The show's auto-advance (`follow`): on in a show, paused in rehearsal until asked."""
        if not self.show.follow:
            self.message = "this show has no auto-advance (follow = 0)"
            return
        self.follow_on = on
        self.last_cue_t = t  # a full `follow` from now
        self.message = f"auto-advance {'on' if on else 'paused'}"
        log.info(self.message)

    def set_recording(self, on: bool) -> None:
        """Start a take (a new file, see osc_stage.take_path) or finalize the current one."""
        if on and self.recorder is None:
            path = take_path(self.opts.record, self.show.path)
            self.recorder = self._recorder(path)
            self.outputs.add(self.recorder)
            self.message = f"recording {path}"
        elif not on and self.recorder is not None:
            self._flush_pictures()
            self.outputs.remove(self.recorder)
            self.recorder.close()
            self.message, self.recorder = f"recorded {self.recorder.path}", None
        else:
            self.message = "already recording" if on else "not recording"
        log.info(self.message)

    def _recorder(self, path: Path) -> Recorder:
        """A recording of the output: real time drops what the encoder cannot take (and
        counts it); an offline render waits for it (every frame recorded)."""
        return Recorder(
            path,
            self.show.output.fps,
            self.size,
            drop_when_full=not self.opts.offline,
            verbose=self.opts.verbose,
        )

    def _flush_pictures(self) -> None:
        """The frames still being read back go to the picture outputs (before they close)."""
        if self.display is None:
            return
        for pixels, (index, shown_at) in self.display.read_pending():
            self.outputs.present(Frame(index, shown_at, pixels))

    def save_point(self) -> None:
        c = self.controller
        taken = {s.name for s in self.show.scenes}
        n = 1
        while f"preset {n}" in taken:
            n += 1
        scene = Scene(
            name=f"preset {n}",
            model=c.model,
            z=tuple(float(v) for v in c.latent.z()),
            seed=None,
            drift=c.scene.drift,
            fade=c.scene.fade,
            params=dict(c.scene.params),
            face=c.scene.face,
        )
        save_preset(self.show.rehearsal.presets, scene)
        c.add_scene(scene)
        self.show = c.show
        self.message = f"saved {scene.name!r} to {self.show.rehearsal.presets.name}"
        log.info(self.message)

    def hud(self, t: float) -> list[str] | None:
        if not self.hud_on:
            return None
        if t - self._hud_at >= 0.25:
            self._hud_at = t
            c, st = self.controller, self.stats
            work = sorted(st.recent)
            p50 = work[len(work) // 2] * 1000 if work else 0.0
            p99 = work[int(len(work) * 0.99)] * 1000 if work else 0.0
            fps = st.recent_fps()
            t0, fresh0 = self._hud_fresh
            if t > t0:
                self._fresh_rate = (st.fresh - fresh0) / (t - t0)
            self._hud_fresh = (t, st.fresh)
            scene = c.scene
            r = self._run_state
            every = r.pacer.divisor if r is not None else 1
            self._hud = [
                f"{self.show.title}",
                f"new images {self._fresh_rate:4.1f}/s  {fps:5.1f} fps"
                + (f" (every {every} refreshes)" if every > 1 else "")
                + f"  frame {p50:4.1f} / p99 {p99:4.1f} ms  missed {st.missed}",
                f"cue {c.cue_index + 1}/{len(self.show.cues)}  scene {c.scene_index + 1} "
                f"'{scene.name}'  model {scene.model}"
                + ("  [drift frozen]" if c.latent.frozen else "")
                + self._follow_hud(t),
                f"engine {self.engine.device} x{self.engine.threads}"
                + (f"  ERROR {self.engine.error}" if self.engine.error else ""),
                self.message,
                *self.health.hud_lines(),
            ]
            self._hud += self.inputs.hud_lines()
        return self._hud

    def _follow_hud(self, t: float) -> str:
        if not self.show.follow:
            return ""
        if not self.follow_on:
            return "  auto-advance paused (o)"
        return f"  next cue in {max(0.0, self.show.follow - (t - self.last_cue_t)):.0f} s"

    # -- health
    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        """Every part that reports its health, by name."""
        sources: dict[str, Callable[[], PartHealth]] = {
            "loop": self._loop_health,
            "engine": self.engine.health,
        }
        sources.update(self.inputs.health_sources())
        if self.events is not None:
            sources["events"] = self.events.health
        if self.recorder is not None or self.events is not None:
            sources["disk"] = self._disk_health
        sources.update(self.outputs.health_sources())
        return sources

    def _loop_health(self) -> PartHealth:
        st, stall = self.stats, self.stall
        recent = st.interval.last(120)
        late = int((recent > 1.5 * st.budget).sum()) if len(recent) else 0
        run = self._run_state
        figures = {
            "fps": round(st.recent_fps(), 1),
            "missed": st.missed,
            "stalls": stall.stalls,
            "longest_stall_s": round(stall.longest, 2),
            "frame_errors": run.errors if run else 0,
        }
        if stall._in_stall:
            return PartHealth(FAILED, f"stalled for {stall.longest_now:.1f} s", figures)
        if run is not None and run.failing:
            where = ", ".join(sorted(run.failed_at))
            return PartHealth(FAILED, f"frames failing (at {where})", figures)
        # degraded above 10 % late frames, well again below 5 % (no flapping at the edge)
        was = self.health.parts.get("loop")
        limit = 0.05 if was is not None and was.state == DEGRADED else 0.1
        if not self.opts.offline and len(recent) >= 60 and late > limit * len(recent):
            return PartHealth(DEGRADED, "frames late (over 1 in 10 of the last 2 s)", figures)
        return PartHealth(OK, "", figures)

    def _disk_health(self) -> PartHealth:
        """Free space where the recording and logs go, looked at every 2 s."""
        now = time.perf_counter()
        if self._disk is not None and now - self._disk[0] < 2.0:
            return self._disk[1]
        target = self.recorder.path if self.recorder is not None else self.events.path
        try:
            free = shutil.disk_usage(target.parent).free / 2**20
        except OSError as e:
            report = PartHealth(FAILED, f"{target.parent}: {e.strerror or e}")
        else:
            figures = {"free_mb": round(free, 1)}
            if free < DISK_LOW_MB[0]:
                report = PartHealth(FAILED, f"{target.parent}: {free:.0f} MB free", figures)
            elif free < DISK_LOW_MB[1]:
                report = PartHealth(DEGRADED, f"{target.parent}: {free:.0f} MB free", figures)
            else:
                report = PartHealth(OK, "", figures)
        self._disk = (now, report)
        return report

    def poll_health(self, now: float, force: bool = False) -> None:
        """Every HEALTH_EVERY s: ask every part, log changes (Health does), and tell OSC
        feedback: changed parts at once, all of them every FEEDBACK_EVERY s."""
        if not force and now - self._health_at < HEALTH_EVERY:
            return
        self._health_at = now
        before = {n: (p.state, p.detail) for n, p in self.health.parts.items()}
        self.health.poll(self.health_sources())
        feedback = self.feedback
        if feedback is None:
            return
        if now - self._feedback_at >= FEEDBACK_EVERY:
            self._feedback_at = now
            parts = None
        else:
            parts = [
                n for n, p in self.health.parts.items() if before.get(n) != (p.state, p.detail)
            ]
            if not parts:
                return
        for address, args in self.health.osc_messages(parts):
            feedback.send(address, *args)

    # -- the loop
    def run(self) -> dict:
        opts, fps = self.opts, self.show.output.fps
        limit_frames = opts.frames
        if limit_frames is None and opts.seconds is not None:
            limit_frames = max(1, round(opts.seconds * fps))
        if limit_frames is None and self.performance is not None:
            limit_frames = round(self.performance.end * fps) + 1
        engine, c = self.engine, self.controller
        if self._pacer is None:  # kept across runs, with the scheduler's choice
            self._pacer = Pacer(fps, vsync_paces=self.display.vsync_paces)
        pacer = self._pacer
        if not opts.offline:
            engine.start()
        image = engine.decode(c.model, c.latent.z(), style=c.style())
        if image is None:  # the generator fails from the start: black until it recovers
            image = self._shown[1] if self._shown else np.zeros((64, 64, 3), np.uint8)
        # the model on screen and its last image (kept across runs: a cue may come between)
        shown_model, previous_image = self._shown or (c.model, image)
        start = time.perf_counter()
        r = self._run_state = _Run(1.0 / fps, start, image, shown_model, previous_image, pacer)
        if not opts.offline and self._schedule is None:
            self._schedule = self._scheduler(pacer)
            log.info(
                "playing at %g fps (%s); %d schedule(s) to compare once the show settles",
                fps,
                "vsync paces" if pacer.vsync_paces else "the loop keeps the time",
                len(self._schedule.candidates),
            )
        r.scheduler = None if opts.offline else self._schedule
        pacer.start(start)
        if self._playing_since is None:
            self._playing_since = start
        r.shown_chain = self._shown_chain = self._shown_chain or self.show.scene_chain(c.scene)
        progress_at = start
        self.stall.threshold = 5.0 if opts.offline else STALL_S
        self.stall.start()
        try:
            while limit_frames is None or r.frame < limit_frames:
                try:
                    if not self._frame(r):
                        break
                except Exception as e:  # one bad frame must not end the show
                    self._frame_failed(e, r)
                if opts.progress and r.prev_present - progress_at >= 5.0:
                    progress_at = r.prev_present
                    self._progress(r.frame, limit_frames, r.prev_present - start)
        except KeyboardInterrupt:
            log.info("interrupted: finishing the recording and closing")
        finally:
            self.stall.pause()
            self._flush_pictures()
            if self.events:  # where the performance ended, for a replay
                self.events.log(r.t, "end")
        self.poll_health(time.perf_counter(), force=True)
        summary = self.stats.summary()
        summary["seconds"] = round(time.perf_counter() - start, 3)
        if opts.offline:  # no presents to time: how fast the render went instead
            summary["fps"] = round(summary["frames"] / max(summary["seconds"], 1e-9), 2)
            summary["fresh_per_s"] = round(self.stats.fresh / max(summary["seconds"], 1e-9), 2)
        summary["show_seconds"] = round(r.t, 3)
        summary["frame_errors"] = r.errors
        if r.scheduler is not None:
            summary["schedule"] = r.scheduler.summary()
        if self.recorder:
            summary["recorded_frames"] = self.recorder.frames_written
        summary["health"] = self.health.snapshot()
        return summary

    def _scheduler(self, pacer: Pacer) -> Scheduler:
        """The plans the loop compares: the engine's thread counts (or --threads) × present
        divisors (or --present-every)."""
        engine, opts = self.engine, self.opts
        threads = [opts.threads] if opts.threads else engine.warmup.get("candidates") or []
        candidates = plans(
            sorted(threads or [engine.threads]), pacer.fps, engine.device.type == "cuda"
        )
        if opts.present_every:
            candidates = [Plan(p.threads, opts.present_every) for p in candidates]
            candidates = list(dict.fromkeys(candidates))

        def apply(plan: Plan) -> None:
            if plan.threads != engine.threads:
                engine.use_threads(plan.threads)
            if plan.divisor != pacer.divisor:
                pacer.divisor = plan.divisor
                self.stats.budget = pacer.interval
                self.display.set_swap_interval(plan.divisor)

        return Scheduler(candidates, apply)

    def _settled(self) -> bool:
        """The moment to compare plans: the first fade over and the face tracker running (or
        5 s in, whatever a missing camera does) — counted from the first frame the stage
        played, across runs."""
        t = time.perf_counter() - self._playing_since
        if t < 1.0 or self.controller.latent.fade_progress < 1.0:
            return t > 5.0
        tracker = getattr(self.face, "tracker", None)
        return tracker is None or len(tracker.times) > 0 or t > 5.0

    def _frame(self, r: _Run) -> bool:
        """One frame: inputs → cues → latent → decode → draw → record → present → pace.
        False when a cue or the window asks the show to end."""
        opts, engine, display, c = self.opts, self.engine, self.display, self.controller
        budget = r.budget if opts.offline else r.pacer.interval
        top = time.perf_counter()
        self.poll_health(top)
        if opts.offline:
            dt, r.t = (budget if r.frame else 0.0), r.frame * budget
        else:
            dt, r.t = (top - r.start - r.t if r.frame else 0.0), top - r.start
        t = r.t
        # every input's news, right before the latent is stepped: shown in this very frame
        cues, readings = self.inputs.poll(t, dt)
        follow = self.show.follow
        if self.performance is None and self.follow_on and follow and t - self.last_cue_t >= follow:
            cues.append(Cue("next", (), "follow"))
        if display.should_close() or not all(self.apply(q, t) for q in cues):
            return False
        for reading in readings:
            self.read(reading, t)
        display.set_overlay(self.inputs.overlay() if self.hud_on else None)
        z = c.step(dt)
        video = self.face.video(c.params()) if self.face else None
        infer = 0.0
        if opts.offline:
            t0 = time.perf_counter()
            decoded = engine.decode(c.model, z, video, style=c.style())
            infer = time.perf_counter() - t0
            if decoded is not None:  # else the last good image stays
                r.image = _keep(decoded)
                self.stats.fresh += 1
        else:
            engine.submit(c.model, z, r.frame, video, style=c.style())
            # Show this frame's own latent when its decode fits: wait for it, but only
            # until the time the rest of the frame needs before its present deadline.
            t0 = time.perf_counter()
            finish_by = r.pacer.deadline + budget - self.stats.rest_estimate() - 0.001
            latest = engine.wait_for(r.frame, finish_by)
            infer = time.perf_counter() - t0
            if latest is not None and latest.model != c.model:
                latest = None  # still the previous model's: keep the last image
            if latest is not None:
                r.image = _keep(latest.image)
                if latest.stamp != r.last_stamp:
                    self.stats.fresh += 1
                    r.last_stamp = latest.stamp
        if c.model != r.shown_model:  # another model: crossfade in image space (on the GPU)
            r.xfade_from, r.shown_model = r.previous_image, c.model
            r.model_changed = True
        chain = self.show.scene_chain(c.scene)
        if chain != r.shown_chain:  # another scene's chain: dissolve from the old one
            r.chain_from, r.shown_chain = r.shown_chain, chain
            self._shown_chain = chain
        r.previous_image = image = r.image
        self._shown = (r.shown_model, image)
        u = c.latent.fade_progress
        if u >= 1.0:
            r.xfade_from = r.chain_from = None
            if r.model_changed and r.scheduler is not None:  # its decode costs differ
                r.scheduler.restart()
            r.model_changed = False
        status = self.health.mark() if self.show.output.status else None
        timings = display.draw(
            image,
            c.params(),
            t,
            self.hud(t),
            status=status,
            chain=chain,
            fade_from=r.xfade_from,
            fade=u,
            chain_from=r.chain_from,
            chain_fade=u,
        )
        if self.outputs.wants_pixels:  # read back a frame or two later: the loop never waits
            for pixels, (index, shown_at) in display.read_later((r.frame, t)):
                self.outputs.present(Frame(index, shown_at, pixels))
        display.present()
        self.stall.presented()
        self.stats.rest.append(time.perf_counter() - top - infer)
        now = time.perf_counter()
        self.inputs.presented(now)
        interval = None if r.frame == 0 or opts.offline else now - r.prev_present
        upload, draw = timings.get("upload", 0.0), timings.get("draw", 0.0)
        self.stats.add(now - top, interval, upload, draw, infer)
        info = self._frame_info(r, work=now - top, interval=interval, infer=infer)
        self.outputs.present(Frame(r.frame, t, None, info))
        r.prev_present = now
        r.frame += 1
        r.failing = 0
        if r.scheduler is not None:
            st = self.stats
            r.scheduler.update(now, st.fresh, st.work.count, st.missed, self._settled())
        if not opts.offline:
            r.pacer.wait(now)
        return True

    def _frame_info(self, r: _Run, **timings: float | None) -> dict:
        """What the state outputs (frame log, OSC feedback) are told about a frame."""
        c = self.controller
        face = None if c.face is None else c.face_features
        return {
            **timings,
            "scene": c.scene_index,
            "scene_name": c.scene.name,
            "cue": c.cue_index,
            "model": r.shown_model,
            "crossfade": r.xfade_from is not None,
            "every": r.pacer.divisor,  # presenting every Nth refresh (the frame log)
            "tempo": round(c.auto.tempo.bpm, 2),
            "blackout": int(c.auto.blacked_out),
            "record": int(self.recorder is not None),
            "recorded": self.recorder.frames_written if self.recorder else None,
            "fps": self.stats.recent_fps(),
            "face_present": None if c.face is None else face is not None,
            "face_features": face,
            "audio": self.controller.readings.get("audio"),
            "params": c.params(),  # (state outputs that echo values: MIDI feedback)
        }

    def _frame_failed(self, e: Exception, r: _Run) -> None:
        """A frame raised: log it (once per place), keep the last picture and go on; a frame
        that fails for FAILING_S of frames in a row ends the show (re-raised)."""
        r.errors += 1
        r.failing += 1
        where = where_raised(e)
        if where not in r.failed_at:
            r.failed_at.add(where)
            log.error("a frame failed at %s: %s: %s (the show goes on)", where, type(e).__name__, e)
        if r.failing * r.budget >= FAILING_S and r.failing >= 10:
            log.error("every frame has failed for %d frames: ending the show", r.failing)
            raise e
        r.frame += 1  # the frame is spent (an offline render moves on)
        if not self.opts.offline:
            time.sleep(r.budget)

    def _progress(self, frame: int, limit: int | None, elapsed: float) -> None:
        fps = self.show.output.fps
        done = frame / fps
        rate = done / elapsed if elapsed > 0 else 0.0
        if limit:
            total = limit / fps
            left = (total - done) / rate if rate > 0 else float("inf")
            log.info(
                "rendering: %.1f / %.1f s of show (%d %%), %.2fx real time, about %.0f s to go",
                done,
                total,
                100 * frame / limit,
                rate,
                left,
            )
        else:
            log.info("rendering: %.1f s of show, %.2fx real time", done, rate)

    def close(self) -> None:
        """Close every part, the recording first (safe to call twice)."""
        self.stall.close()
        parts = (self.recorder, self.events, self.outputs, self.inputs)
        for part in (*parts, self.engine, self.display):
            if part is not None:
                try:
                    part.close()
                except Exception as e:  # closing must not hide the error that got us here
                    log.error("closing %s: %s", type(part).__name__, e)


def windows(show: Show, opts: RunOptions) -> tuple[OutputEntry, PreviewSpec | None]:
    """The program window's entry (defaults: the show's [output]) and the preview's spec:
    asked by `--preview` or a preview entry, else on only with two or more monitors."""
    found = {e.role: e for e in show.outputs if e.kind == "window"}
    program = found.get("program", OutputEntry("window"))
    entry = found.get("preview")
    if opts.headless:
        return program, None
    if entry is None:
        return program, PreviewSpec(enabled=True if opts.preview else None)
    size = (entry.width, entry.height) if entry.width and entry.height else None
    return program, PreviewSpec(
        enabled=opts.preview or entry.enabled,  # an entry asks for it, unless enabled = false
        monitor=entry.monitor,
        size=size,
        fullscreen=bool(entry.fullscreen),
    )


def audio_source(text: str) -> Path | int | str:
    """--audio: a sound file's path, a device index, or a device name (a part of it)."""
    if text.isdigit():
        return int(text)
    path = Path(text)
    return path.resolve() if path.suffix.lower() in (".wav", ".wave") else text


def make_outputs(show: Show, opts: RunOptions) -> list[Output]:
    """The show's `[[outputs]]` besides its windows, and the command line's (--ndi,
    --virtualcam)."""
    entries = [e for e in show.outputs if e.kind != "window"]
    if opts.ndi:
        entries.append(OutputEntry("ndi", name=opts.ndi))
    if opts.virtualcam and not any(e.kind == "virtualcam" for e in entries):
        entries.append(OutputEntry("virtualcam", name="virtualcam"))
    return build_outputs(entries)


@dataclass
class _Run:
    """What one `Stage.run` carries from frame to frame."""

    budget: float
    start: float
    image: np.ndarray  # the newest good image
    shown_model: str
    previous_image: np.ndarray
    pacer: Pacer
    scheduler: Scheduler | None = None
    model_changed: bool = False  # → the scheduler compares again when the fade is over
    xfade_from: np.ndarray | None = None
    shown_chain: tuple[str, ...] = ()  # the shader chain on screen
    chain_from: tuple[str, ...] | None = None  # the chain it dissolves from
    last_stamp: int = -1
    t: float = 0.0
    frame: int = 0
    prev_present: float = 0.0
    errors: int = 0  # frames that raised
    failing: int = 0  # … in a row
    failed_at: set = field(default_factory=set)  # where they raised (logged once each)

    def __post_init__(self) -> None:
        self.prev_present = self.start


def _keep(image: np.ndarray) -> np.ndarray:
    """A decoded image as the loop keeps it: read-only, so the display may trust that the same
    array is the same picture and skip uploading it again."""
    image.flags.writeable = False
    return image


def run_show(show: Show, opts: RunOptions) -> dict:
    """Open, play and close a show. SIGINT/SIGTERM end it within ShutdownGuard's grace in every
    state (opening included), the recording finalized."""
    guard = ShutdownGuard().install()
    stage = None
    try:
        try:
            stage = Stage(show, opts)
        except KeyboardInterrupt:
            log.info("interrupted while opening the show")
            return {"frames": 0, "interrupted": True}
        guard.closers = [
            ("the recording", lambda: stage.recorder and stage.recorder.close()),
            ("the event log", lambda: stage.events and stage.events.close()),
            ("the frame log", lambda: stage.frame_log and stage.frame_log.close()),
        ]
        return stage.run()
    finally:
        guard.closing = True
        try:
            if stage is not None:
                stage.close()
        finally:
            guard.uninstall()
