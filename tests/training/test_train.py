"""The training loop on tiny models and real photographs: losses that must fall do fall, resume
is bit-identical, NaN stops cleanly, Ctrl-C and torchrun write their checkpoints; defaults by
device, a time budget, the opening and closing lines, the collapse flag, TensorBoard files; the
command line's help imports nothing heavy."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch

from models.checkpoint import atomic_torch_save, read_checkpoint
from training import defaults
from training.data import to_model_range
from training.events import read_scalars
from training.loop import Trainer, TrainingError, TrainOptions
from training.zoo import MODELS

ROOT = Path(__file__).resolve().parents[2]
QUIET = {"sample_every": 10**6, "eval_every": 10**6, "ckpt_every": 10**6, "metrics_images": 8}


def tiny(model: str, out: Path, data: Path | None, **kw) -> TrainOptions:
    opts = {"size": 16, "steps": 20, "batch": 8, "width": 0.125, "workers": 0, "log_every": 1}
    opts.update(QUIET)
    opts.update(kw)
    return TrainOptions(model=model, out=str(out), data=str(data) if data else None, **opts)


def series(trainer: Trainer, key: str) -> list[float]:
    return [h[f"loss/{key}"] for h in trainer.history if f"loss/{key}" in h]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


@pytest.mark.parametrize(
    ("model", "kw"),
    [
        ("dcgan", {}),
        ("dcgan128", {"size": 32}),
        ("wgan-unet", {"steps": 10}),
        ("dual", {"arrangement": "classifier"}),
    ],
)
def test_each_model_learns(model: str, kw: dict, photos: Path, tmp_path: Path):
    """Margins measured against the same runs with lr 1e-12 (nothing learns), seeds 0-2: there
    the BCE loss d wanders ±0.04 (dcgan; the dual classifier's not at all), the Wasserstein
    estimate ±0.001 and the penalty ±0.02; learning, d falls 0.14-0.29 (dual 0.08-0.11), the
    estimate rises 0.04-0.07 and the penalty falls 0.7."""
    torch.set_num_threads(2)
    t = Trainer(tiny(model, tmp_path / model, photos, **kw))
    assert t.run() == t.opts.steps
    if model == "wgan-unet":  # the critic's Wasserstein estimate grows; its penalty falls
        w, gp = series(t, "wasserstein"), series(t, "gp")
        assert mean(w[-3:]) > mean(w[:3]) + 0.02, w
        assert mean(gp[-3:]) < mean(gp[:3]) - 0.3, gp
    else:  # the discriminator learns to tell real from fake (or G0's images from G1's)
        d = series(t, "d")
        assert mean(d[-5:]) < mean(d[:3]) - (0.05 if model == "dual" else 0.12), d
    assert (tmp_path / model / "last.pt").is_file()
    assert list((tmp_path / model / "samples").glob("step_*.png"))


def test_wgan_step_runs_the_generator_once_per_critic_update(photos: Path, tmp_path: Path):
    """The last critic batch's fakes serve the generator update: n_critic generator forwards
    per step, not n_critic + 1; the generator still learns (its weights move)."""
    t = Trainer(tiny("wgan-unet", tmp_path / "u", photos, n_critic=3, steps=1))
    G = t.recipe.nets["G"]
    calls = []
    G.register_forward_hook(lambda *_: calls.append(torch.is_grad_enabled()))
    before = [p.detach().clone() for p in G.parameters()]
    t.run()
    assert calls == [False, False, True]
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters(), strict=True))


def test_vaegan_round_trip_beats_threshold(photos: Path, tmp_path: Path):
    opts = tiny("vaegan", tmp_path / "v", photos, steps=100, lr=1e-3, width=0.25, mode="pad")
    opts.flip = False
    t = Trainer(opts)
    x = to_model_range(torch.stack([t.dataset[(i, 0)] for i in range(len(t.dataset))]))

    def round_trip() -> float:
        with torch.no_grad():
            return float((t.ema["G"].net(t.recipe.nets["E"].eval()(x)[0]) - x).abs().mean())

    before = round_trip()
    t.run()
    after = round_trip()
    baseline = float((x - x.mean(0)).abs().mean())  # the mean image's error
    assert after < 0.3 < before and after < baseline, (before, after, baseline)
    rec = series(t, "rec")  # the training batches' reconstruction error falls too
    assert mean(rec[-10:]) < mean(rec[:5]) - 0.05
    with torch.no_grad():  # no posterior collapse: the code is not the prior (σ ≈ 0.96 at
        _, logvar = t.recipe.nets["E"](x)  # the old KL weight, with every picture alike)
    assert float((0.5 * logvar).exp().mean()) < 0.7


@pytest.mark.parametrize(("model", "workers"), [("dcgan128", 1), ("vaegan", 0)])
def test_resume_is_bit_identical(model: str, workers: int, photos: Path, tmp_path: Path):
    kw = {"steps": 6, "size": 32 if model == "dcgan128" else 16, "workers": workers}
    straight = Trainer(tiny(model, tmp_path / "a", photos, **kw))
    straight.run()
    first = Trainer(tiny(model, tmp_path / "b", photos, **{**kw, "steps": 3}))
    first.run()
    resumed = Trainer(tiny(model, tmp_path / "b", photos, **kw), resume=True)
    assert resumed.step == 3
    resumed.run()
    a = read_checkpoint(tmp_path / "a" / "last.pt")
    b = read_checkpoint(tmp_path / "b" / "last.pt")
    assert a["step"] == b["step"] == 6
    for part, state in a["state"].items():
        for k, v in state.items():
            assert torch.equal(v, b["state"][part][k]), f"{part}.{k} differs after resume"
    assert a["data_pos"] == b["data_pos"]


def test_a_vaegan_run_from_before_the_encoder_was_averaged_resumes(photos: Path, tmp_path: Path):
    """Runs saved before the VAE-GAN's encoder had a moving average (no E_ema) resume: the
    average starts from the encoder as it was saved."""
    kw = {"steps": 2, "size": 16, "workers": 0}
    Trainer(tiny("vaegan", tmp_path / "old", photos, **kw)).run()
    ckpt = tmp_path / "old" / "last.pt"
    raw = torch.load(ckpt, map_location="cpu", weights_only=False)
    del raw["state"]["E_ema"]
    atomic_torch_save(raw, ckpt)
    resumed = Trainer(tiny("vaegan", tmp_path / "old", photos, **{**kw, "steps": 3}), resume=True)
    E, E_ema = resumed.recipe.nets["E"].state_dict(), resumed.ema["E"].net.state_dict()
    assert all(torch.equal(v, E_ema[k]) for k, v in E.items())
    assert resumed.run() == 3
    assert "E_ema" in read_checkpoint(ckpt)["state"]


def test_nan_stops_naming_the_step_and_keeps_the_checkpoint(photos: Path, tmp_path: Path):
    t = Trainer(tiny("dcgan", tmp_path / "n", photos, steps=10, ckpt_every=2))
    step = t.recipe.step

    def poisoned(next_batch, i):
        out = step(next_batch, i)
        return {**out, "g": torch.tensor(float("nan"))} if i == 4 else out

    t.recipe.step = poisoned
    ckpt = tmp_path / "n" / "last.pt"
    with pytest.raises(TrainingError, match=r"step 5: loss g is not finite.*last good checkpoint"):
        t.run()
    assert read_checkpoint(ckpt)["step"] == 4


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_ctrl_c_writes_a_checkpoint(photos: Path, tmp_path: Path):
    stage = Path(sys.executable).with_name("stage")
    cmd = [str(stage)] if stage.exists() else [sys.executable, "-m", "performer.cli"]
    cmd += ["train", "dcgan", "--data", str(photos), "--size", "16", "--width", "0.125"]
    cmd += ["--batch", "4", "--steps", "100000", "--log-every", "1", "--workers", "1"]
    cmd += ["--out", str(tmp_path / "c"), "--ckpt-every", "100000", "--sample-every", "100000"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    try:
        for line in proc.stderr:
            if line.startswith("step 3/"):
                break
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130, rest
    finally:
        proc.kill()
    assert "writing a checkpoint" in rest
    step = read_checkpoint(tmp_path / "c" / "last.pt")["step"]
    assert 3 <= step < 100000


def test_torchrun_two_cpu_processes(photos: Path, tmp_path: Path):
    # Every address is the loopback: the rendezvous store on a port the OS picks while binding
    # it (port 0: nothing to race for), the workers' store address (not socket.getfqdn(), which
    # needs the machine's name to resolve), gloo's interface (not the hostname's address).
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0"]
    cmd += ["--rdzv-id", uuid.uuid4().hex, "--local-addr", "127.0.0.1"]
    cmd += ["-m", "training", "train", "dcgan", "--data", str(photos), "--size", "16"]
    cmd += ["--width", "0.125", "--batch", "4", "--steps", "3", "--workers", "0"]
    cmd += ["--out", str(tmp_path / "ddp"), "--metrics-images", "8"]
    env = dict(_env(), GLOO_SOCKET_IFNAME="lo")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in (tmp_path / "ddp").glob("*.pt")] == ["last.pt"]
    ckpt = read_checkpoint(tmp_path / "ddp" / "last.pt")
    assert ckpt["step"] == 3 and ckpt["train"]["world"] == 2


def test_help_imports_nothing_heavy_and_shows_every_default():
    code = (
        "import sys; from training.__main__ import build_parser; h = build_parser()"
        ".parse_known_args(['train', 'dcgan', '--out', 'x'])"
        "; print(sorted(m for m in ('torch', 'cv2', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert tuple(sorted(MODELS)) == defaults.MODEL_NAMES  # the parser's names are the zoo's
    assert set(defaults.CPU_WIDTH) == set(MODELS)
    from training.__main__ import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    train = sub.choices["train"]
    for action in train._actions:
        assert action.help, f"{action.option_strings or action.dest}: no help"
    text = train.format_help()
    for shown in ("(default: 0.999)", "(default: 500)", "on a GPU 1)", "at most 64 on a CPU"):
        assert shown in " ".join(text.split()), shown


def test_defaults_by_device(tmp_path: Path):
    o = TrainOptions(model="dcgan", out=str(tmp_path), data="d")
    cpu, gpu = o.resolved("cpu"), o.resolved("cuda")
    assert (cpu.width, cpu.batch, cpu.steps) == (0.25, 64, defaults.DEFAULT_STEPS)
    assert (gpu.width, gpu.batch) == (1.0, MODELS["dcgan"].batch)
    budget = TrainOptions(model="dcgan", out=str(tmp_path), data="d", minutes=5).resolved()
    assert budget.steps is None and budget.minutes == 5
    both = TrainOptions(model="dcgan", out=str(tmp_path), data="d", minutes=5, steps=7)
    assert both.resolved().steps == 7 and both.resolved().minutes is None  # --steps wins
    with pytest.raises(TrainingError, match="--minutes must be > 0"):
        TrainOptions(model="dcgan", out=str(tmp_path), data="d", minutes=0).resolved()


def test_minutes_budget_and_what_the_run_says(photos: Path, tmp_path: Path, capsys):
    """--minutes: the first steps' pace sets the step count; the run opens with what trains on
    what and where, says its pace, and closes with its figures, a verdict and the next command;
    its TensorBoard file is read by TensorBoard's own reader."""
    torch.set_num_threads(2)
    kw = {"steps": None, "minutes": 0.1, "eval_every": 10**6, "sample_every": 10**6}
    t = Trainer(tiny("dcgan", tmp_path / "m", photos, **kw))
    assert t.opts.steps > 10**9  # not known before the first steps are timed
    t.run()
    assert 3 <= t.step == t.opts.steps < 10**6
    summary = (tmp_path / "m" / "summary.json").read_text()
    assert '"minutes": 0.1' in summary
    assert float(summary.split('"wall_s": ')[1].split(",")[0]) < 4 * 6.0  # a 6 s budget
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("stage train dcgan: 16 px, width 0.125 (G ")
    assert "steps to fit --minutes 0.1 on cpu" in lines[0] and str(tmp_path / "m") in lines[0]
    assert lines[1].startswith(f"data {photos}: 6 images (short side 48 px)")
    (pace,) = [line for line in lines if line.startswith("pace ")]
    assert "to fit --minutes 0.1" in pace, err
    done = err[err.index("\ndone: ") :]
    assert f"done: {t.step} steps in " in done and "img/s" in done and "diversity" in done
    assert "\ncollapse: " in done and "\nnext: " in done
    (events,) = (tmp_path / "m" / "events").iterdir()
    scalars = read_scalars(events)
    assert {"loss/d", "loss/g", "images_per_s", "metrics/near_copies", "metrics/swd"} <= set(
        scalars
    )
    assert [s for s, _ in scalars["loss/d"]] == list(range(1, t.step + 1))


def test_collapse_flag_fires_on_one_image_plus_noise(photos: Path, tmp_path: Path, caplog):
    t = Trainer(tiny("dcgan", tmp_path / "c", photos, metrics_images=32))
    t._stash_reals()
    real = t.real_stash
    assert real is not None
    one = real[:1]
    gen = torch.Generator().manual_seed(0)

    def noisy(gens: dict, z: torch.Tensor) -> torch.Tensor:
        return one + 0.05 * torch.randn(len(z), *one.shape[1:], generator=gen)

    with caplog.at_level(logging.WARNING, logger="training"):
        t.recipe.sample = lambda gens, z: real[: len(z)]  # the data itself: quiet
        quiet = t.evaluate()
        assert not caplog.records, [r.getMessage() for r in caplog.records]
        t.recipe.sample = noisy  # a generator of one picture plus noise: flagged
        flagged = t.evaluate()
    assert quiet["metrics/distinct"] >= 6 and quiet["metrics/near_copies"] < 1.0
    assert (flagged["metrics/distinct"], flagged["metrics/near_copies"]) == (1.0, 1.0)
    said = [r.getMessage() for r in caplog.records]
    assert any("mode collapse: the 32 samples are only 1 distinct picture" in m for m in said)
    from training.report import verdict

    assert verdict(flagged)[1] and not verdict(quiet)[1]


def test_the_next_command_fits_how_the_run_ended():
    from training import report

    o = TrainOptions(model="dcgan", out="runs/paint", data="photos").resolved()
    healthy = report.next_commands(o, [], False, False, 1e-4)
    assert healthy[0] == "stage export runs/paint --out models/checkpoints/paint.pt"
    assert report.next_commands(o, [], False, False, 1e-4, export_follows=True) == []
    assert report.next_commands(o, [], False, True, 1e-4)[0].startswith(
        "stage train dcgan --out runs/paint --resume"
    )
    argv = ["train", "dcgan", "--data", "photos", "--lr", "2e-4", "--out", "runs/paint"]
    again = report.next_commands(o, argv, True, False, 2e-4)[0]
    assert again.startswith(
        "stage train dcgan --data photos --lr 0.0001 --seed 1 --out runs/paint-2"
    )
    longer = report.next_commands(o, argv, True, False, 2e-4, early=True)[0]
    assert longer.startswith("stage train dcgan --out runs/paint --resume --steps 20000")
