"""The shared training loop: progress, sample grids from fixed z, loss plot, TensorBoard events,
EMA generators, AMP + channels-last on CUDA, seeds, atomic checkpoints, exact --resume, Ctrl-C,
NaN/inf stop, mode-collapse watch and SWD, a time budget (--minutes), data-parallel training
under torchrun.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from models.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from training import artifacts, defaults, events, metrics, report
from training.data import BatchOrder, DataOptions, ImageFolder, loader, to_model_range
from training.zoo import MODELS, build

log = logging.getLogger("training")


# Channels-last on the CPU too for these (oneDNN's NHWC convolutions: the VAE-GAN trains 1.18x
# and the U-Net 1.12x faster on this project's 2-core machine; the dual generators' modulated
# convolutions 1.15x slower, so not them). Always on CUDA.
CPU_CHANNELS_LAST = {"dcgan", "dcgan128", "vaegan", "wgan-unet"}


# Set to "1" by a caller that exports the run itself when training ends (performer's `stage
# train`): the closing summary then names no export command of its own.
EXPORT_FOLLOWS = "STAGE_TRAIN_EXPORT_FOLLOWS"

UNTIMED = 2**62  # the step count of a --minutes run before its first steps are timed

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and a scheduler's or torchrun's stop


class TrainingError(Exception):
    """Training cannot go on (diverged, bad options, bad data); the message says where."""


@dataclass
class TrainOptions:
    model: str
    out: str
    data: str | None = None
    size: int | None = None  # default: the model's own (dcgan 64, dcgan128 128, ...)
    steps: int | None = None  # generator updates (default: DEFAULT_STEPS, or to fit `minutes`)
    minutes: float | None = None  # a time budget: the first steps' pace sets `steps`
    batch: int | None = None  # per process; default: the model's own
    lr: float | None = None
    seed: int = 0
    width: float | None = None  # scales every layer's channels (default: by device, defaults.py)
    z_dim: int | None = None
    mode: str = "crop"  # "crop" (random patches) or "pad" (whole image, padded square)
    resize: int | None = None  # min side before cropping (default: size)
    flip: bool = True
    video_fps: float = 2.0
    workers: int | None = None  # data processes (default: see default_workers)
    n_critic: int | None = None
    weights: dict[str, float] = field(default_factory=dict)  # loss weights, per model
    arrangement: str | None = None  # dual: "diametric" or "classifier"
    upsample: str = "transposed"  # dcgan, dcgan128, vaegan: or "resize" (training/zoo.py)
    ema: float = 0.999
    log_every: int = 10
    sample_every: int = 200
    eval_every: int = 500
    ckpt_every: int = 500
    metrics_images: int = 64
    collapse_ratio: float = 0.3
    device: str = "auto"
    amp: bool = True  # mixed precision on CUDA
    channels_last: str = "auto"  # "auto" (CUDA), "on", "off"

    def resolved(self, device_type: str = "cpu") -> TrainOptions:
        """A copy with every default filled in: the model's own, and width and batch by the
        device ("cpu", "cuda"). `steps` stays None when `minutes` is to set it."""
        if self.model not in MODELS:
            raise TrainingError(f"unknown model {self.model!r}; known: {', '.join(MODELS)}")
        spec = MODELS[self.model]
        o = copy.deepcopy(self)
        o.size = o.size or spec.size
        o.width = o.width or defaults.default_width(o.model, device_type)
        o.batch = o.batch or defaults.default_batch(spec.batch, device_type)
        o.lr = o.lr or spec.lr
        if o.steps is not None:
            o.minutes = None  # an explicit step count wins over a time budget
        elif o.minutes is None:
            o.steps = defaults.DEFAULT_STEPS
        elif not o.minutes > 0:
            raise TrainingError(f"--minutes must be > 0, got {o.minutes:g}")
        if o.model != "dual" and not o.data:
            raise TrainingError(f"{o.model}: --data PATH is required (a folder of images/videos)")
        for name in ("steps", "batch", "log_every", "sample_every", "eval_every", "ckpt_every"):
            value = getattr(o, name)
            if value is not None and value < 1:
                raise TrainingError(f"--{name.replace('_', '-')} must be ≥ 1")
        if not o.width > 0:
            raise TrainingError(f"--width must be > 0, got {o.width:g}")
        return o


def _distributed() -> tuple[int, int, int]:
    """(rank, world, local rank); joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if world > 1:
        return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def default_workers(ds: ImageFolder) -> int:
    """Data processes: none when every image is already decoded in memory (a crop and a flip
    cost less than waking a process that takes a core from the training threads), else 1 on
    small machines and 4 on larger ones."""
    if ds.cache is not None:
        return 0
    return 1 if (os.cpu_count() or 1) <= 4 else 4


class EMA:
    """Exponential moving average of a generator's weights (buffers copied)."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.net.parameters(), net.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - d)
        for e, b in zip(self.net.buffers(), net.buffers(), strict=True):
            e.copy_(b)


class Trainer:
    """Runs one training job into `options.out` (a run folder: last.pt, samples/, events/,
    losses.png). `run()` returns the final step."""

    def __init__(self, options: TrainOptions, resume: bool = False) -> None:
        self._t_created = time.perf_counter()  # a --minutes budget counts from here
        self.rank, self.world, local = _distributed()
        self.out = Path(options.out)
        self.ckpt_path = self.out / "last.pt"
        self.resume_data: dict[str, Any] | None = None
        if resume:
            if not self.ckpt_path.is_file():
                raise TrainingError(f"{self.ckpt_path}: nothing to resume (no checkpoint yet)")
            try:
                self.resume_data = read_checkpoint(self.ckpt_path)
            except CheckpointError as e:
                raise TrainingError(str(e)) from None
            saved = dict(self.resume_data["train"]["options"])
            saved.update(out=str(self.out), minutes=options.minutes)
            if options.steps is not None or options.minutes is not None:
                saved["steps"] = options.steps  # else: on to the step count it had
            elif saved.get("steps") == UNTIMED:  # saved before a budget was timed
                saved["steps"] = None
            options = TrainOptions(**saved)
        if options.device == "auto":
            self.device = (
                torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
            )
        else:
            self.device = torch.device(options.device)
        self.opts = options.resolved(self.device.type)
        o = self.opts
        self.budget_s = o.minutes * 60.0 if o.steps is None else None
        if o.steps is None:
            o.steps = UNTIMED  # until the first steps are timed (see _pace)
        cuda = self.device.type == "cuda"
        auto_cl = cuda or o.model in CPU_CHANNELS_LAST
        self.channels_last = o.channels_last == "on" or (o.channels_last == "auto" and auto_cl)
        torch.manual_seed(o.seed)  # the same initial weights on every process
        self.recipe = build(asdict(o), self.device)
        r = self.recipe
        if cuda and o.amp:
            bf16 = torch.cuda.is_bf16_supported()
            r.amp_dtype = torch.bfloat16 if bf16 else torch.float16
            r.scaler = None if bf16 else torch.amp.GradScaler("cuda")
            torch.backends.cudnn.benchmark = True
        if self.channels_last:
            for n in r.nets.values():
                n.to(memory_format=torch.channels_last)
        self.ema = {g: EMA(r.nets[g], o.ema) for g in r.generators}
        params = {n: sum(p.numel() for p in net.parameters()) for n, net in r.nets.items()}
        self.step, self.data_pos, self.history = 0, 0, []
        self.wall_s = 0.0  # training time over every session of this run (resumes add to it)
        if self.resume_data is not None:
            self._restore(self.resume_data)
        else:
            torch.manual_seed(o.seed * 1000 + self.rank + 1)
        if self.world > 1:
            for n in r.nets.values():
                for t in [*n.parameters(), *n.buffers()]:
                    dist.broadcast(t.data, 0)
        self.writer: Any = None  # a torch.utils.tensorboard SummaryWriter, made by run()
        self._stop = False
        self._loader_iter: Any = None
        self.dataset: ImageFolder | None = None
        threads = torch.get_num_threads()
        self._say(report.opening(o, str(self.device), threads, self.world, params, self.step))
        if r.needs_data:
            data_opts = DataOptions(o.size, o.mode, o.resize, o.flip, o.video_fps)
            self.dataset = ImageFolder(o.data, data_opts)  # DataError before any step
            self._say(self.dataset.describe())
        zgen = torch.Generator().manual_seed(o.seed + 12_345)
        self.z_fixed = torch.randn(16 if o.model == "dual" else 64, r.z_dim, generator=zgen)
        self.z_metrics = torch.randn(o.metrics_images, r.z_dim, generator=zgen)
        self.real_stash: torch.Tensor | None = None
        self.data_diversity = 0.0
        self.copies_radius = metrics.copies_radius(None)
        self.data_copies: metrics.Copies | None = None
        self._paced = False
        self._pace_from: tuple[float, int] | None = None
        self._aimed = 0.0  # when the step count was last set to fit the budget
        self._eval_s = self._samples_s = 0.0  # the closing figures and grid take this
        self.best_diversity = max(
            (h.get("metrics/diversity", 0.0) for h in self.history), default=0.0
        )

    # -- checkpoints
    def _restore(self, data: dict[str, Any]) -> None:
        r, state = self.recipe, data["state"]
        try:
            for name, net in r.nets.items():
                net.load_state_dict(state[name])
            for name, ema in self.ema.items():
                if f"{name}_ema" in state:
                    ema.net.load_state_dict(state[f"{name}_ema"])
                else:  # a run from before this net was averaged (the VAE-GAN's E): start here
                    ema.net.load_state_dict(r.nets[name].state_dict())
                    log.info(
                        "%s: no average of %s saved; it starts from the net", self.ckpt_path, name
                    )
            for name, opt in r.optims.items():
                opt.load_state_dict(data["optim"][name])
        except (KeyError, RuntimeError, ValueError) as e:
            raise TrainingError(f"{self.ckpt_path}: cannot resume from it: {e}") from None
        if r.scaler is not None and data.get("scaler"):
            r.scaler.load_state_dict(data["scaler"])
        self.step, self.data_pos = int(data["step"]), int(data["data_pos"])
        self.history = list(data.get("history", []))
        self.wall_s = float(data.get("wall_s", 0.0))
        rng = data.get("rng", {})
        if self.world == 1 and "cpu" in rng:
            torch.set_rng_state(rng["cpu"])
            if torch.cuda.is_available() and rng.get("cuda"):
                torch.cuda.set_rng_state_all(rng["cuda"])
        else:  # other processes' RNG is not saved: a fresh, distinct stream per process
            torch.manual_seed((self.opts.seed * 1000 + self.rank + 1) * 100_003 + self.step)
        log.info("resuming %s at step %d", self.ckpt_path, self.step)

    def save(self) -> Path | None:
        if self.rank != 0:
            return None
        r = self.recipe
        parts: dict[str, Any] = dict(r.nets)
        parts.update({f"{n}_ema": e.net for n, e in self.ema.items()})
        rng = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        extra = {
            "optim": {n: o.state_dict() for n, o in r.optims.items()},
            "rng": rng,
            "data_pos": self.data_pos,
            "history": self.history,
            "wall_s": self.wall_s + time.perf_counter() - self._session_t0,
            "scaler": r.scaler.state_dict() if r.scaler is not None else {},
        }
        train = {"options": asdict(self.opts), "world": self.world, "torch": str(torch.__version__)}
        path = save_checkpoint(
            self.ckpt_path, r.kind, r.config, parts, step=self.step, train=train, extra=extra
        )
        self.saved_step = self.step
        return path

    # -- data
    def _next_batch(self) -> torch.Tensor:
        if self._loader_iter is None:
            o, ds = self.opts, self.dataset
            assert ds is not None
            workers = o.workers if o.workers is not None else default_workers(ds)
            order = BatchOrder(len(ds), o.batch, o.seed, self.data_pos, self.rank, self.world)
            self._loader = loader(ds, order, workers, pin=self.device.type == "cuda")
            self._loader_iter = iter(self._loader)
        batch = next(self._loader_iter)
        self.data_pos += 1
        x = to_model_range(batch.to(self.device, non_blocking=True))
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _stash_reals(self) -> None:
        """A fixed set of real images for the data's own diversity and SWD (not the loader's
        stream, so it does not shift the training data order)."""
        ds = self.dataset
        if ds is None or self.real_stash is not None:
            return
        n = self.opts.metrics_images
        order = iter(BatchOrder(len(ds), n, self.opts.seed + 7))
        self.real_stash = to_model_range(torch.stack([ds[k] for k in next(order)]))
        self.data_diversity = metrics.batch_diversity(self.real_stash)
        self.copies_radius = metrics.copies_radius(self.real_stash)
        self.data_copies = metrics.near_copies(self.real_stash, self.copies_radius)

    # -- the loop
    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._stop:  # a second Ctrl-C: stop at once
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self._stop = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        message = f"\n{name}: finishing this step and writing a checkpoint (Ctrl-C again to abort)"
        with contextlib.suppress(OSError):  # a raw write: the handler may run inside a print's
            os.write(sys.stderr.fileno(), (message + "\n").encode())  # own (locked) write

    def run(self) -> int:
        o, r = self.opts, self.recipe
        self.saved_step = self.step if self.resume_data is not None else -1
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            self.writer = events.open_writer(self.out / "events")
            self._stash_reals()
        main = threading.current_thread() is threading.main_thread()
        old = {s: signal.signal(s, self._on_sigint) for s in STOP_SIGNALS} if main else {}
        interrupted = False
        self._session_t0 = time.perf_counter()
        try:
            for n in r.nets.values():
                n.train()
            t0, s0 = time.perf_counter(), self.step
            while self.step < o.steps:
                losses = self.train_step()
                self._pace()
                if self.step % o.log_every == 0 or self.step == o.steps:
                    dt = max(time.perf_counter() - t0, 1e-9)
                    ips = r.images_per_step(o.batch) * self.world * (self.step - s0) / dt
                    self._log(losses, ips, (o.steps - self.step) * dt / (self.step - s0))
                    t0, s0 = time.perf_counter(), self.step
                if self.rank == 0 and self.step % o.sample_every == 0:
                    self.write_samples()
                if self.rank == 0 and self.step % o.eval_every == 0:
                    self.evaluate()
                if self.step % o.ckpt_every == 0:
                    self.save()
                if self._stop_requested():
                    interrupted = True
                    break
            last = self.history[-1] if self.history else {}
            evaluated_now = last.get("step") == self.step and "metrics/diversity" in last
            if self.rank == 0 and not interrupted and last and not evaluated_now:
                self.evaluate()  # the final figures, for the summary
            if self.saved_step != self.step:
                self.save()
            if self.rank == 0:
                self.write_samples()
                artifacts.loss_plot(self.out / "losses.png", self.history)
                self.write_summary()
                self._say(self._closing(interrupted))
            if interrupted:
                print(
                    f"\nstopped at step {self.step}; checkpoint {self.ckpt_path}", file=sys.stderr
                )
            return self.step
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self.close()

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step of training: the recipe's update on the next batch(es), the finite check,
        the EMA generators. Logging, samples and checkpoints are `run()`'s."""
        r = self.recipe
        losses = r.step(self._next_batch, self.step)
        self._check_finite(losses)
        self.step += 1
        for name, ema in self.ema.items():
            ema.update(r.nets[name], self.step)
        return losses

    def _say(self, text: str) -> None:
        """A line for the person at the terminal (the first process only)."""
        if self.rank != 0:
            return
        if sys.stderr.isatty():
            text = "\r" + text.ljust(100)  # over a progress line
        print(text, file=sys.stderr, flush=True)

    def _pace(self) -> None:
        """Times the first steps of this session (the first step, a warm-up, excluded) and says
        the pace; with a time budget it sets the step count so the run ends on time, and aims
        again at every progress line (and every 10 s). Every process takes the first one's count."""
        now, o = time.perf_counter(), self.opts
        if self._pace_from is None:
            self._pace_from = (now, self.step)
            return
        t1, s1 = self._pace_from
        done = self.step - s1
        timed = self.world == 1 and now - t1 >= 3.0  # other processes go by the steps alone
        first = (
            not self._paced and done >= 2 and (timed or done >= 10 or self.step % o.log_every == 0)
        )
        due = self.step % o.log_every == 0 or (self.world == 1 and now - self._aimed >= 10.0)
        again = self._paced and self.budget_s is not None and due
        if not (first or again):
            return
        per_step = (now - t1) / done
        if self.budget_s is not None:
            left = self._t_created + self.budget_s - now - self._eval_s - self._samples_s
            steps = torch.tensor([self.step + max(0, int(left / per_step))], device=self.device)
            if self.world > 1:
                dist.broadcast(steps, 0)
            o.steps = max(self.step, int(steps.item()))
            self._aimed = now
        if first:
            self._paced = True
            ips = self.recipe.images_per_step(o.batch) * self.world / per_step
            self._say(report.pace(ips, per_step, o.steps, self.step, o.minutes))

    def _stop_requested(self) -> bool:
        if self.world == 1:
            return self._stop
        flag = torch.tensor([1.0 if self._stop else 0.0])
        dist.all_reduce(flag)
        return bool(flag.item() > 0)

    def _check_finite(self, losses: dict[str, torch.Tensor]) -> None:
        values = torch.stack([v.float() for v in losses.values()])
        if bool(torch.isfinite(values).all()):
            return
        bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
        last = (
            f"the last good checkpoint {self.ckpt_path} (step {self.saved_step}) is left as it was"
            if self.saved_step >= 0
            else "no checkpoint was written"
        )
        raise TrainingError(
            f"step {self.step + 1}: loss {', '.join(bad)} is not finite"
            f" ({', '.join(f'{k}={float(losses[k])}' for k in bad)}); training stopped; {last}."
            " Try a lower --lr."
        )

    def _log(self, losses: dict[str, torch.Tensor], ips: float, eta_s: float) -> None:
        row: dict[str, float] = {"step": self.step, "images_per_s": round(ips, 2)}
        row.update({f"loss/{k}": float(v) for k, v in losses.items()})
        self.history.append(row)
        if self.rank != 0:
            return
        if self.writer:
            for k, v in row.items():
                if k != "step":
                    self.writer.add_scalar(k, v, self.step)
        text = " ".join(f"{k} {float(v):.4g}" for k, v in losses.items())
        if self.budget_s is not None and not self._paced:  # the step count is not known yet
            line = f"step {self.step}/?  {text}  {ips:.1f} img/s"
        else:
            done = self.step / self.opts.steps
            eta = time.strftime("%H:%M:%S", time.gmtime(eta_s)) if eta_s < 86_400 else ">1 day"
            line = f"step {self.step}/{self.opts.steps} {done:4.0%}  {text}  {ips:.1f} img/s"
            line += f"  eta {eta}"
        if sys.stderr.isatty():
            print("\r" + line.ljust(100), end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    @torch.no_grad()
    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        gens = {n: e.net for n, e in self.ema.items()}
        out = []
        for chunk in z.split(64):
            with self.recipe.autocast():
                out.append(self.recipe.sample(gens, chunk.to(self.device)).float().cpu())
        return torch.cat(out)

    def write_samples(self) -> Path:
        t0 = time.perf_counter()
        images = self._generate(self.z_fixed)
        tile = artifacts.grid(images, 8)
        path = artifacts.write_png(self.out / "samples" / f"step_{self.step:07d}.png", tile)
        if self.writer:
            self.writer.add_image("samples", tile, self.step, dataformats="HWC")
            self.writer.flush()
        self._samples_s = max(self._samples_s, time.perf_counter() - t0)
        return path

    def evaluate(self) -> dict[str, float]:
        """Batch diversity, near-copies (with the collapse warnings) and SWD against the real
        stash."""
        t0 = time.perf_counter()
        fake = self._generate(self.z_metrics)
        copies = metrics.near_copies(fake, self.copies_radius)
        figures = {
            "metrics/diversity": metrics.batch_diversity(fake),
            "metrics/dominant_cluster": metrics.dominant_cluster(fake),  # near-copies' share
            "metrics/near_copies": copies.near,  # share of samples with a near-copy
            "metrics/distinct": float(copies.distinct),  # distinct pictures among them
            "metrics/samples": float(copies.n),
        }
        if self.data_copies is not None:
            figures["metrics/data_distinct"] = float(self.data_copies.distinct)
        # a grid of a few repeated pictures, trained or not: what a viewer sees first
        repeated = metrics.copies_warning(copies, self.data_copies)
        if repeated:
            early = self.best_diversity < self.opts.collapse_ratio * self.data_diversity
            log.warning(
                "step %d: %s%s", self.step, repeated, " (or not learnt yet)" if early else ""
            )
        self.best_diversity = max(self.best_diversity, figures["metrics/diversity"])
        if self.real_stash is not None:
            figures["metrics/data_diversity"] = self.data_diversity
            swd = metrics.sliced_wasserstein_distance(self.real_stash, fake)
            figures["metrics/swd"] = sum(swd) / len(swd)
            figures.update({f"metrics/swd_{i}": v for i, v in enumerate(swd)})
            warning = metrics.collapse_warning(
                figures["metrics/diversity"], self.data_diversity, self.opts.collapse_ratio
            )
            # a collapse is a fall: an untrained generator is not diverse yet either
            trained = self.best_diversity >= self.opts.collapse_ratio * self.data_diversity
            if warning and trained:
                log.warning("step %d: %s", self.step, warning)
            # a dominant repeated image: what the mean diversity hides (a partial collapse)
            cluster = metrics.cluster_warning(figures["metrics/dominant_cluster"])
            if cluster and trained:
                log.warning("step %d: %s", self.step, cluster)
        if self.writer:
            for k, v in figures.items():
                self.writer.add_scalar(k, v, self.step)
        if self.history and self.history[-1].get("step") == self.step:
            self.history[-1].update(figures)
        else:
            self.history.append({"step": self.step, **figures})
        self._eval_s = max(self._eval_s, time.perf_counter() - t0)
        return figures

    def _latest(self) -> dict[str, float]:
        latest: dict[str, float] = {}
        for row in self.history:
            latest.update({k: v for k, v in row.items() if k.startswith(("metrics/", "loss/"))})
        return latest

    def _closing(self, interrupted: bool) -> str:
        """The closing summary: figures, the collapse verdict and the next command."""
        summary = json.loads((self.out / "summary.json").read_text())
        early = self.best_diversity < self.opts.collapse_ratio * self.data_diversity
        line, collapsed = report.verdict(self._latest(), self.opts.collapse_ratio, early)
        lr = float(self.opts.lr or 0.0)
        argv = sys.argv[1:]
        follows = os.environ.get(EXPORT_FOLLOWS) == "1"
        commands = report.next_commands(
            self.opts, argv, collapsed, interrupted, lr, early, export_follows=follows
        )
        return report.closing(summary, line, commands)

    def write_summary(self) -> Path:
        """`summary.json` in the run folder: the command, options, steps, wall time and the
        latest figures (the numbers to quote beside a shipped checkpoint)."""
        latest = self._latest()
        speeds = [row["images_per_s"] for row in self.history[-20:] if "images_per_s" in row]
        summary = {
            "model": self.opts.model,
            "command": "stage " + shlex.join(sys.argv[1:]),
            "options": asdict(self.opts),
            "steps": self.step,
            "wall_s": round(self.wall_s + time.perf_counter() - self._session_t0, 1),
            "images_per_s": round(sum(speeds) / len(speeds), 1) if speeds else None,
            "device": str(self.device),
            "torch": str(torch.__version__),
            "figures": latest,
            "collapse": report.verdict(
                latest,
                self.opts.collapse_ratio,
                self.best_diversity < self.opts.collapse_ratio * self.data_diversity,
            )[0],
        }
        return artifacts.write_text(self.out / "summary.json", json.dumps(summary, indent=2) + "\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self._loader_iter = None
        self._loader = None
        if sys.stderr.isatty():
            print(file=sys.stderr)
