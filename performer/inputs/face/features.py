"""The performer's face as numbers: head pose, position, size, mouth, smile, eyes, brows.

`measure`: landmarks → raw measures (head pose by solvePnP on a 3-D face model);
`FeaturePipeline`: neutral calibration, FEATURES' ranges, a One Euro filter per feature.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Feature:
    lo: float
    hi: float
    rest: float  # the value at the neutral pose
    doc: str

    @property
    def scale(self) -> float:
        """Divides (value - rest) into about [-1, 1]: what mappings and filters work in."""
        return max(self.hi - self.rest, self.rest - self.lo)


# Every feature, its range and meaning ("image" = as the camera sees it, not mirrored).
FEATURES: dict[str, Feature] = {
    "yaw": Feature(-90, 90, 0, "degrees; + the face turns toward the image's right"),
    "pitch": Feature(-90, 90, 0, "degrees; + chin up"),
    "roll": Feature(-90, 90, 0, "degrees; + the head tilts counter-clockwise in the image"),
    "x": Feature(-1, 1, 0, "face centre from neutral, in half frame widths; + right"),
    "y": Feature(-1, 1, 0, "face centre from neutral, in half frame heights; + up"),
    "size": Feature(-1, 1, 0, "log2 of face size over neutral: +1 twice as near, -1 half"),
    "mouth_open": Feature(0, 1, 0, "0 closed, 1 wide open"),
    "smile": Feature(-1, 1, 0, "0 neutral, +1 broad smile, -1 lips pressed narrow"),
    "eye_l": Feature(0, 1.5, 1, "performer's left eye: 0 shut, 1 as at neutral, 1.5 wide"),
    "eye_r": Feature(0, 1.5, 1, "performer's right eye: 0 shut, 1 as at neutral, 1.5 wide"),
    "brow": Feature(-1, 1, 0, "0 neutral, +1 raised, -1 lowered / frowning"),
}

# Raw measures at a typical neutral face (used until the performer calibrates).
DEFAULT_NEUTRAL: dict[str, float] = {
    "yaw": 0.0,
    "pitch": 0.0,
    "roll": 0.0,
    "x": 0.0,
    "y": 0.0,
    "size": 0.37,  # forehead-to-chin over the frame height
    "mouth": 0.02,  # inner-lip gap over mouth width
    "smile": 0.42,  # mouth width over face width
    "eye_l": 0.33,  # lid gap over eye width
    "eye_r": 0.33,
    "brow": 0.115,  # brow-to-eye height over face height
}
MOUTH_SPAN = 0.6  # mouth ratio above neutral that reads as "wide open"
SMILE_SPAN = 0.10  # mouth width ratio change that reads as a full smile
BROW_SPAN = 0.35  # relative change of brow height that reads as fully raised

# ------------------------------------------------------------------- the 3-D face model

# MediaPipe's canonical face model (cm; x to the face's left, y up, z toward the camera):
# rigid points only (nose, eye corners, temples, cheekbones), none that move with expression.
_CENTRE = {
    1: (-1.126865, 7.475604),
    4: (-0.463170, 7.586580),
    5: (0.365669, 7.242870),
    6: (2.473255, 5.788627),
    10: (8.261778, 4.481535),
    151: (6.545390, 5.027311),
    168: (3.271027, 5.236015),
    195: (1.059413, 6.774605),
    197: (1.728369, 6.316750),
}
_SIDES = {  # the face's right side; its mirror image is the left side
    (33, 263): (-4.445859, 2.663991, 3.173422),  # outer eye corners
    (133, 362): (-1.856432, 2.585245, 3.757904),  # inner eye corners
    (127, 356): (-7.743095, 2.364999, -2.005167),  # temples
    (234, 454): (-7.664182, 0.673132, -2.435867),  # face edge at the cheek
    (98, 327): (-1.405627, -1.714196, 5.241087),  # nostrils
    (129, 358): (-1.785794, -0.978284, 4.850470),  # nose wings
    (116, 345): (-6.465170, 0.937119, 1.689873),  # cheekbones
    (123, 352): (-6.338145, -0.529279, 1.881175),
}


def _model() -> tuple[np.ndarray, np.ndarray]:
    idx, pts = [], []
    for i, (y, z) in _CENTRE.items():
        idx.append(i)
        pts.append((0.0, y, z))
    for (right, left), (x, y, z) in _SIDES.items():
        idx += [right, left]
        pts += [(x, y, z), (-x, y, z)]
    # to OpenCV's camera axes (x right, y down, z away): a frontal face has R = identity
    return np.array(idx), np.array(pts, np.float64) * np.array([1.0, -1.0, -1.0])


POSE_INDEX, POSE_MODEL = _model()


def camera_matrix(size: tuple[int, int]) -> np.ndarray:
    """A webcam-like pinhole camera: focal length = image width (about 53° across)."""
    w, h = size
    return np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)


def euler(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a model-to-camera rotation, with FEATURES' signs."""
    r = rotation
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -r[2, 0]))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return -yaw, -pitch, -roll


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The inverse of `euler`: a model-to-camera rotation for a head pose in degrees."""
    y, p, r = (math.radians(-a) for a in (yaw, pitch, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def head_pose(points: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float] | None:
    """Head (yaw, pitch, roll) in degrees from the pixel positions of POSE_INDEX's landmarks."""
    ok, rvec, _ = cv2.solvePnP(
        POSE_MODEL,
        np.ascontiguousarray(points, np.float64).reshape(-1, 1, 2),
        camera_matrix(size),
        None,
        flags=cv2.SOLVEPNP_SQPNP,
    )
    if not ok:
        return None
    return euler(cv2.Rodrigues(rvec)[0])


# ------------------------------------------------------------------- raw measures


def _dist(p: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(p[a] - p[b]))


def measure(landmarks: np.ndarray, size: tuple[int, int]) -> dict[str, float] | None:
    """Raw measures of one face: `landmarks` (N ≥ 468, 3) as MediaPipe gives them (x, y
    normalised to the frame, z at about x's scale); `size` the frame's (width, height)."""
    w, h = size
    if landmarks.shape[0] < 468 or w < 1 or h < 1:
        return None
    p = landmarks[:, :3].astype(np.float64) * np.array([w, h, w])  # pixels, 3-D
    pose = head_pose(p[POSE_INDEX, :2], size)
    if pose is None:
        return None
    face_h = _dist(p, 10, 152)
    face_w = _dist(p, 234, 454)
    mouth_w = _dist(p, 61, 291)
    if min(face_h, face_w, mouth_w) < 1e-6:
        return None
    # the performer's right eye is MediaPipe's 33/133 (lids 159/145); the left 263/362 (386/374)
    eye_r = _dist(p, 159, 145) / max(_dist(p, 33, 133), 1e-6)
    eye_l = _dist(p, 386, 374) / max(_dist(p, 263, 362), 1e-6)
    brow = (_dist(p, 105, 159) + _dist(p, 334, 386)) / (2 * face_h)
    centre = p[[10, 152, 234, 454], :2].mean(axis=0)
    return {
        "yaw": pose[0],
        "pitch": pose[1],
        "roll": pose[2],
        "x": float(centre[0] / w * 2 - 1),
        "y": float(1 - centre[1] / h * 2),
        "size": face_h / h,
        "mouth": _dist(p, 13, 14) / mouth_w,
        "smile": mouth_w / face_w,
        "eye_l": eye_l,
        "eye_r": eye_r,
        "brow": brow,
    }


def normalise(raw: Mapping[str, float], neutral: Mapping[str, float]) -> dict[str, float]:
    """Raw measures → FEATURES' values, relative to a neutral pose's raw measures."""

    def wrap(a: float) -> float:
        return (a + 180.0) % 360.0 - 180.0

    n = neutral
    out = {
        "yaw": wrap(raw["yaw"] - n["yaw"]),
        "pitch": wrap(raw["pitch"] - n["pitch"]),
        "roll": wrap(raw["roll"] - n["roll"]),
        "x": raw["x"] - n["x"],
        "y": raw["y"] - n["y"],
        "size": math.log2(max(raw["size"], 1e-6) / max(n["size"], 1e-6)),
        "mouth_open": (raw["mouth"] - n["mouth"]) / MOUTH_SPAN,
        "smile": (raw["smile"] - n["smile"]) / SMILE_SPAN,
        "eye_l": raw["eye_l"] / max(n["eye_l"], 1e-6),
        "eye_r": raw["eye_r"] / max(n["eye_r"], 1e-6),
        "brow": (raw["brow"] / max(n["brow"], 1e-6) - 1.0) / BROW_SPAN,
    }
    return {k: min(max(v, FEATURES[k].lo), FEATURES[k].hi) for k, v in out.items()}


# ------------------------------------------------------------------- smoothing


@dataclass(frozen=True)
class FilterParams:
    """One Euro filter: `min_cutoff` (Hz) sets the smoothing at rest, `beta` how fast the
    cutoff rises with speed (less lag when moving), `d_cutoff` (Hz) smooths the speed."""

    min_cutoff: float = 1.0
    beta: float = 0.3
    d_cutoff: float = 1.0


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) over timestamped samples."""

    def __init__(self, params: FilterParams = FilterParams()) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        self.x: float | None = None
        self.dx = 0.0
        self.t: float | None = None

    def __call__(self, x: float, t: float) -> float:
        if self.x is None or self.t is None or t <= self.t:
            if self.x is None or self.t is None:
                self.x, self.t = float(x), t
            return self.x
        p, dt = self.params, t - self.t
        dx = (x - self.x) / dt
        self.dx += _alpha(p.d_cutoff, dt) * (dx - self.dx)
        cutoff = p.min_cutoff + p.beta * abs(self.dx)
        self.x += _alpha(cutoff, dt) * (x - self.x)
        self.t = t
        return self.x


class FeaturePipeline:
    """raw measures → calibrated, normalised, smoothed features. Pure: time comes in with each
    sample (its capture time), so a recorded performance replays exactly."""

    def __init__(
        self,
        filters: Mapping[str, FilterParams] | None = None,
        neutral: Mapping[str, float] | None = None,
        calibrate_window: int = 8,
    ) -> None:
        filters = filters or {}
        self.neutral = dict(neutral or DEFAULT_NEUTRAL)
        self.filters = {k: OneEuro(filters.get(k, FilterParams())) for k in FEATURES}
        self.recent: deque[dict[str, float]] = deque(maxlen=calibrate_window)
        self.values: dict[str, float] | None = None  # the latest smoothed features

    def update(self, raw: Mapping[str, float], t: float) -> dict[str, float]:
        """One face sample taken at time `t` (seconds) → smoothed features."""
        self.recent.append(dict(raw))
        values = normalise(raw, self.neutral)
        out = {}
        for k, v in values.items():
            scale = FEATURES[k].scale  # filter in [-1, 1]-ish units: one beta fits all
            out[k] = self.filters[k](v / scale, t) * scale
        self.values = out
        return out

    def reset(self) -> None:
        """The face was lost: the next sample starts the filters afresh (no glide from the
        old position)."""
        for f in self.filters.values():
            f.reset()

    def calibrate(self) -> bool:
        """The performer's neutral pose is the mean of the last few samples. False when there
        is no face to calibrate on."""
        if not self.recent:
            return False
        keys = self.recent[0].keys()
        self.neutral = {k: float(np.mean([r[k] for r in self.recent])) for k in keys}
        return True
