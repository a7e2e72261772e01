"""A small face data set without a webcam: the test face (performer/assets/test-face.jpg) moved,
zoomed, turned and colour-jittered like a performer in front of a camera, in a 640x480 camera
frame, tracked by the stage's own face tracker (MediaPipe face mesh) and cropped exactly as the
stage's `video_crop = "face"` crops (performer.inputs.face.rig.crop), written as PNGs.

    python scripts/face_dataset.py runs/faces            # train/ (600) and test/ (64) at 128 px
    python scripts/face_dataset.py DIR --train 200 --test 32 --size 64

The train and test frames come from different stretches of the movement (different seeds), so
the test frames are poses the model never saw. Frames where the tracker finds no face are
skipped, as `stage capture --faces` skips them. `warm/` and `cool/` hold the test frames in the
warmest and coolest light (a property for `stage analyze --with warm --without cool`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACE = ROOT / "performer" / "assets" / "test-face.jpg"
FRAME = (640, 480)  # camera frame (width, height)


def _background(rng: np.random.Generator) -> np.ndarray:
    """A dim stage wall: a smooth colour field with a little sensor noise."""
    w, h = FRAME
    small = rng.uniform(20, 110, (3, 4, 3)).astype(np.float32)
    wall = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(wall + rng.normal(0, 3, wall.shape), 0, 255).astype(np.uint8)


class Performer:
    """A smooth random walk of position, zoom, roll and lighting (one state per frame)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.state = np.zeros(7)  # dx, dy, log zoom, roll, gain, warmth, contrast
        self.vel = np.zeros(7)
        self.scale = np.array([90.0, 50.0, 0.25, 12.0, 0.18, 0.12, 0.15])
        self.bg = _background(self.rng)

    def step(self) -> np.ndarray:
        r = self.rng
        self.vel = 0.85 * self.vel + 0.15 * r.normal(0, 0.35, 7)
        self.state = np.clip(0.97 * self.state + self.vel, -1.5, 1.5)
        if r.random() < 0.01:
            self.bg = _background(r)
        return self.state * self.scale

    def frame(self, face: np.ndarray) -> np.ndarray:
        """The next camera frame (RGB, 480x640)."""
        dx, dy, logz, roll, gain, warmth, contrast = self.step()
        w, h = FRAME
        fh, fw = face.shape[:2]
        zoom = np.exp(logz) * 1.1
        m = cv2.getRotationMatrix2D((fw / 2, fh / 2), roll, zoom)
        m[:, 2] += (w / 2 - fw / 2 + dx, h / 2 - fh / 2 + dy)
        person = cv2.warpAffine(face, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        mask = cv2.warpAffine(np.ones((fh, fw), np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
        mask = cv2.GaussianBlur(mask, (0, 0), 6)[..., None]
        img = mask * person.astype(np.float32) + (1 - mask) * self.bg.astype(np.float32)
        tint = np.array([1 + warmth, 1.0, 1 - warmth], np.float32) * (1 + gain)
        mean = img.mean()
        img = (img - mean) * (1 + contrast) + mean
        img = img * tint + self.rng.normal(0, 2.5, img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)


def make(out: Path, count: int, size: int, seed: int, every: int = 3) -> int:
    """`count` face crops (size x size PNG) into `out`; returns how many were written."""
    from performer.inputs.face.rig import crop
    from performer.inputs.face.tracker import MeshBackend

    face = cv2.cvtColor(cv2.imread(str(FACE)), cv2.COLOR_BGR2RGB)
    out.mkdir(parents=True, exist_ok=True)
    performer, tracker = Performer(seed), MeshBackend(refine=False)
    written, t = 0, 0
    try:
        while written < count and t < count * every * 4:
            img = performer.frame(face)
            t += 1
            landmarks, _ = tracker.process(img, t / 30)  # every frame, as the stage tracks
            if t % every or landmarks is None:
                continue
            square = crop(img, landmarks)
            tile = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(out / f"{seed}-{t:06d}.png"), cv2.cvtColor(tile, cv2.COLOR_RGB2BGR))
            written += 1
    finally:
        tracker.close()
    return written


def split_by_warmth(folder: Path, out: Path, count: int = 16) -> None:
    """Copies of the `count` warmest (red − blue) images of `folder` in out/warm, the coolest in
    out/cool."""
    import shutil

    files = sorted(folder.glob("*.png"))
    warmth = []
    for f in files:
        bgr = cv2.imread(str(f)).astype(np.float32)
        warmth.append(float(bgr[..., 2].mean() - bgr[..., 0].mean()))
    ranked = [f for _, f in sorted(zip(warmth, files, strict=True), key=lambda t: t[0])]
    for name, chosen in (("cool", ranked[:count]), ("warm", ranked[-count:])):
        (out / name).mkdir(parents=True, exist_ok=True)
        for f in chosen:
            shutil.copy(f, out / name / f.name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=600)
    p.add_argument("--test", type=int, default=64)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    n = make(a.out / "train", a.train, a.size, a.seed)
    m = make(a.out / "test", a.test, a.size, a.seed + 1000)
    split_by_warmth(a.out / "test", a.out, max(1, m // 4))
    print(f"{n} training and {m} held-out face crops ({a.size} px) in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
