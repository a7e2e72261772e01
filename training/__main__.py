"""`python -m training train|export|analyze|photos ...` (also reached as `stage train ...`): the
training studio's command line. Works under `torchrun --nproc-per-node N -m training train ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from training.defaults import MODEL_NAMES, help_text


def _weights(text: str) -> dict[str, float]:
    try:
        return {k.strip(): float(v) for k, v in (kv.split("=") for kv in text.split(",") if kv)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected name=value,... got {text!r}") from None


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help where X says something: not for None (the help
    says what decides it), a flag, or help that names its default already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or isinstance(action.default, bool) or "default:" in text:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stage", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train",
        help="train a model into a run folder",
        description="Train a model into a run folder (last.pt, samples/, events/, losses.png,"
        " summary.json). Width and batch default by device: small on a CPU, full on a GPU.",
        formatter_class=_Help,
    )
    dev = help_text()
    t.add_argument(
        "model",
        choices=MODEL_NAMES,
        help="dcgan (64 px), dcgan128 (128 px), wgan-unet (32 px), vaegan (128 px, with an"
        " encoder: live video through it), dual (data-free, 64 px)",
    )
    t.add_argument("--data", help="folder of images/videos (or one video); dual takes none")
    t.add_argument("--out", required=True, type=Path, help="run folder, e.g. runs/NAME")
    t.add_argument("--size", type=int, help="image size (default: the model's own)")
    t.add_argument("--steps", type=int, help=f"generator updates in all (default: {dev['steps']})")
    t.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help="a time budget: the pace of the first steps sets the step count so the run ends"
        " in about M minutes (an explicit --steps wins)",
    )
    t.add_argument("--batch", type=int, help=f"batch per process (default: {dev['batch']})")
    t.add_argument("--lr", type=float, help="learning rate (default: the model's own)")
    t.add_argument("--seed", type=int, default=0, help="seed of the weights and the data order")
    t.add_argument(
        "--width", type=float, help=f"scale every layer's channels (default: {dev['width']})"
    )
    t.add_argument("--z-dim", type=int, help="latent size (default: the model's own)")
    t.add_argument("--mode", choices=["crop", "pad"], default="crop", help="patches or pad")
    t.add_argument("--resize", type=int, help="min side before random patches (default: size)")
    t.add_argument(
        "--no-flip", dest="flip", action="store_false", help="no random horizontal flips"
    )
    t.add_argument("--video-fps", type=float, default=2.0, help="frames sampled per video second")
    t.add_argument(
        "--workers",
        type=int,
        help="data-loading processes (default: 0 when the images fit in memory, else 1 on a"
        " machine of up to 4 cores, 4 above)",
    )
    t.add_argument(
        "--n-critic", type=int, help="critic updates per generator update (default: the model's)"
    )
    t.add_argument(
        "--weights",
        type=_weights,
        default={},
        help="loss weights, e.g. kl=0.01,adv=0.1 (default: the model's own)",
    )
    t.add_argument(
        "--arrangement",
        choices=["diametric", "classifier"],
        help="dual only: how the two generators are kept apart (default: the model's own)",
    )
    t.add_argument(
        "--upsample",
        choices=["transposed", "resize"],
        default="transposed",
        help="dcgan/dcgan128/vaegan: transposed convs, or nearest x2 + 3x3 conv (no grid)",
    )
    t.add_argument(
        "--ema", type=float, default=0.999, help="decay of the generator's moving average"
    )
    t.add_argument("--log-every", type=int, default=10, help="steps between progress lines")
    t.add_argument(
        "--sample-every", type=int, default=200, help="steps between sample grids (samples/)"
    )
    t.add_argument(
        "--eval-every",
        type=int,
        default=500,
        help="steps between figures (diversity, near-copies, SWD) and the collapse check",
    )
    t.add_argument(
        "--ckpt-every", type=int, default=500, help="steps between checkpoints (last.pt)"
    )
    t.add_argument(
        "--metrics-images", type=int, default=64, help="samples and real images per figure"
    )
    t.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (a GPU if any)")
    t.add_argument("--no-amp", dest="amp", action="store_false", help="no mixed precision on a GPU")
    t.add_argument(
        "--channels-last",
        choices=["auto", "on", "off"],
        default="auto",
        help="NHWC memory layout; auto: on a GPU, and on a CPU for the convolutional models",
    )
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    e = sub.add_parser("export", help="write the stage checkpoint of a run")
    e.add_argument("run", type=Path)
    e.add_argument("--out", required=True, type=Path)
    a = sub.add_parser("analyze", help="latent analysis of a checkpoint (PNG/MP4 + directions)")
    a.add_argument(
        "checkpoint", type=Path, help="a stage checkpoint, a run's last.pt or a run folder"
    )
    a.add_argument("--out", type=Path, help="folder for the figures (default: beside it)")
    a.add_argument(
        "--seeds",
        default="0,1,2,3",
        help="seeds for interpolation and, for a GAN, the arithmetic's targets (comma list)",
    )
    a.add_argument("--steps", type=int, default=8, help="interpolation steps per pair")
    a.add_argument("--directions", type=int, default=8, help="principal directions to save")
    a.add_argument("--samples", type=int, default=1024, help="z samples for the PCA")
    a.add_argument(
        "--image", type=Path, help="one real image when there is no --data (default: astronaut)"
    )
    a.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="real frames (first 64 by name) for the comparison, the deconvnet and arithmetic",
    )
    a.add_argument(
        "--compare-vae",
        type=Path,
        metavar="RUN",
        help="a pixel-VAE run (stage train vaegan --weights adv=0,feat=0) for comparison.png",
    )
    a.add_argument(
        "--with", dest="with_dir", type=Path, metavar="DIR", help="images with a property"
    )
    a.add_argument(
        "--without", dest="without_dir", type=Path, metavar="DIR", help="images without it"
    )
    a.add_argument("--with-seeds", metavar="LIST", help="GAN: seeds with a property, e.g. 1,5,9")
    a.add_argument("--without-seeds", metavar="LIST", help="GAN: seeds without it")
    a.add_argument(
        "--save-as",
        metavar="NAME",
        help="save mean(with) − mean(without) into the checkpoint as direction NAME",
    )
    a.add_argument(
        "--channels", type=int, default=8, help="channels per layer in the deconvnet figures"
    )
    a.add_argument("--no-save", dest="save", action="store_false", help="do not write directions")
    a.add_argument(
        "--sheet", type=int, default=0, metavar="N", help="labelled PNG of seeds 0..N-1 (sheet.png)"
    )
    a.add_argument(
        "--pick",
        type=int,
        default=0,
        metavar="K",
        help="write the K most showable seeds as [[scenes]] to NAME.picks.toml beside the file",
    )
    ph = sub.add_parser("photos", help="write scikit-image's photographs as a training folder")
    ph.add_argument("folder", type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from models.checkpoint import CheckpointError
    from training.data import DataError
    from training.loop import TrainingError

    try:
        if args.command == "train":
            return train(args)
        if args.command == "photos":
            from training.photos import write_photos

            files = write_photos(args.folder)
            print(f"{len(files)} photographs in {args.folder}")
            return 0 if files else 1
        if args.command == "export":
            from training.export import export

            print(export(args.run, args.out))
            return 0
        from training.analysis import analyze

        for path in analyze(args):
            print(path)
        return 0
    except (TrainingError, DataError, CheckpointError, ValueError) as e:
        print(f"stage {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"stage {args.command}: aborted", file=sys.stderr)
        return 130


def train(args: argparse.Namespace) -> int:
    from training.loop import Trainer, TrainOptions

    fields = set(TrainOptions.__dataclass_fields__)
    opts = TrainOptions(**{k: v for k, v in vars(args).items() if k in fields})
    opts.out = str(args.out)
    trainer = Trainer(opts, resume=args.resume)
    try:
        step = trainer.run()
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            # every rank done (rank 0 writes the last checkpoint, grid and summary alone)
            # before any tears its process group down: one that leaves early aborts in gloo
            # ("terminate called without an active exception")
            with contextlib.suppress(Exception):
                dist.barrier()
            dist.destroy_process_group()
    if trainer.rank == 0:
        print(f"{trainer.ckpt_path} (step {step})")
    return 130 if trainer._stop else 0


if __name__ == "__main__":
    sys.exit(main())
