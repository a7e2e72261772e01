"""Soak and fault benchmark: the default show played headless, in its own process, for
`--minutes` while valid OSC arrives at 1 kHz, hostile datagrams at another 1 kHz, the camera
clip disappears and returns, and the recording's file system fills up part-way; then SIGTERM.

Prints and saves (bench/results/soak.json): the show's RSS (after warm-up, at 10 %, at the end,
growth per hour by a linear fit), frame intervals from its frame log (p50/p99/max, missed %),
stalls, health changes and restarts per part, recorder drops, OSC counters, cues lost, the time
to exit after SIGTERM and whether the recording (cut off by the full disk) is readable.

    python bench/soak.py [--minutes 10] [--show show.toml] [--size WxH] [--out bench/results]

Cues lost. Every cue the show applies goes to its event log (`--record OUT.mp4` writes
OUT.events.jsonl), but continuous values (`param`, `tempo`, ...) are coalesced by design: only
the latest per target within a frame is applied. So the valid sender (127.0.0.1) sends two kinds:
- discrete cues, never coalesced: `/stage/beat` as every 20th message (50 a second; that fast
  they never change the tapped tempo) and `/stage/cue/go i` every 4 s. Each must appear in the
  log once, the `cue/go` indices in the order sent;
- continuous values, each carrying a unique value exact in float32 (`base + k * 2^-n` for the
  k-th message to that target): `/stage/param/grade.saturation`, `/stage/param/trails.decay`,
  `/stage/tempo`. Per target, every logged value must decode to a value sent, in increasing k
  (nothing reordered or invented), and the last one sent must be logged (the latest wins). When
  the show reports its `coalesced` counter (health.osc), also sent = logged + coalesced.
`cues_lost` = discrete cues not logged + continuous targets whose last value is missing + (with
the counter) continuous values neither logged nor coalesced. `cues_sent` / `cues_logged` count
both kinds. Hostile datagrams come from 127.0.0.2 (the rate limit is per sender IP) and can
make no cue (patterns that match nothing, wrong arguments, broken framing): a cue that comes
from them is counted as `unexpected_cues`. The camera clip (scikit-image's astronaut, moving)
is renamed away for 10 s every 60 s (for short runs: every run/6 s, at least 15, for ≥ 6 s).

The recording goes to a tmpfs (when root; else the normal disk, said in the JSON), resized
once the recording's bytes/s are measured (its first 10 %) to fill at 40 % of the run, and
shrunk to what it holds if it is not full by then. The event log is a symlink from there to
the normal disk, so the full disk cannot hide lost cues.
Every exit path (Ctrl-C, SIGTERM, errors) stops the show and the senders and unmounts.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import save_results  # noqa: E402

RATE = 1000  # valid messages a second, and as many hostile datagrams
BEAT_EVERY = 20  # every 20th valid message is a /stage/beat: 50 a second
CUE_EVERY_S = 4.0  # a /stage/cue/go every this many seconds
FILL_AT = 0.4  # the recording's file system fills at this fraction of the run
# Continuous targets: address, base, step. The k-th value base + k·step is exact in float32
# (step = the float32 spacing in [base, 2·base)) for k < 2^23: ≈ 6 h at these rates.
TARGETS = {
    "grade.saturation": ("/stage/param/grade.saturation", 1.0, 2.0**-23),
    "trails.decay": ("/stage/param/trails.decay", 0.25, 2.0**-25),
    "tempo": ("/stage/tempo", 64.0, 2.0**-17),
}
CYCLE = ("grade.saturation", "trails.decay", "tempo") * 2 + ("grade.saturation", "trails.decay")
MAX_MINUTES = 360.0
INTERVALS = ("interval_p50_ms", "interval_p99_ms", "interval_max_ms")
OSC_DROPS = ("dropped", "rate_limited", "kernel_udp_drops")
VIDEO = ("frames", "frames_decoded", "decoded_s")


# ------------------------------------------------------------------------------- OSC by hand
def _s(raw: bytes) -> bytes:
    """An OSC string: NUL-terminated, padded to 4 bytes."""
    return raw + b"\0" * (4 - len(raw) % 4)


def message(address: str | bytes, tags: str = "", payload: bytes = b"") -> bytes:
    a = address.encode("latin-1") if isinstance(address, str) else address
    return _s(a) + _s(b"," + tags.encode("latin-1")) + payload


def bundle(elements: list[bytes], timetag: int = 1) -> bytes:
    body = b"".join(struct.pack(">i", len(e)) + e for e in elements)
    return b"#bundle\0" + struct.pack(">Q", timetag) + body


def junk_kinds() -> dict[str, Any]:
    """Hostile datagrams by kind: bytes, or a function of a random.Random giving bytes. None
    of them can make a cue: their patterns match no address, their arguments are wrong."""
    f1 = struct.pack(">f", 1.0)
    junk_msg = message("/junk/x", "f", f1)
    nested = junk_msg
    for _ in range(300):  # ≈ 6 KB: under max_packet, far over any depth limit
        nested = bundle([nested])
    just_over = junk_msg
    for _ in range(10):  # one over the stage's limit of 8 below the outermost
        just_over = bundle([just_over])
    alternatives = "{" + ",".join(["a*"] * 40) + "}"
    return {
        "star24": message("/stage/param/" + "*" * 24 + "z", "f", f1),
        "star_q": message("/stage/param/" + "*?" * 12 + "z", "f", f1),
        "star_a": message("/stage/param/" + "*e" * 20 + "*q", "f", f1),
        "two_star30": message("/stage/" + "*" * 30 + "q/" + "*" * 30 + "q", "f", f1),
        "root_star30": message("/" + "*" * 30 + "q/" + "*" * 30 + "q", "f", f1),
        "alternatives40": message("/stage/param/" + alternatives, "f", f1),
        "alternatives40x2": message(f"/stage/{alternatives}/{alternatives}", "f", f1),
        "brackets60": message("/stage/param/" + "[a-z]" * 60, "f", f1),
        "unclosed": message("/stage/param/[abc{d,e", "f", f1),
        "long_address": message("/stage/param/" + "x" * 4000, "f", f1),
        "truncated_bundle": lambda r: bundle([junk_msg, junk_msg])[: r.randrange(9, 40)],
        "negative_size": b"#bundle\0" + struct.pack(">Qi", 1, -8) + junk_msg,
        "overlong_size": b"#bundle\0" + struct.pack(">Qi", 1, 1 << 30) + junk_msg,
        "huge_type_tags": message("/stage/tempo", "f" * 7000),
        "odd_type_tags": message("/stage/tempo", "fXYZ" * 500),
        "nested_arrays": message("/stage/z", "[" * 1500 + "]" * 1500),
        "blob_lies": message("/stage/param/grade.saturation", "b", struct.pack(">i", 1 << 30)),
        "bad_args": message("/stage/tempo", "s", _s(b"fast")),
        "no_cue_999": message("/stage/cue/go", "i", struct.pack(">i", 999)),
        "random_bytes": lambda r: r.randbytes(r.randrange(1, 1500)),
        "random_slash": lambda r: b"/" + r.randbytes(r.randrange(1, 800)),
        "random_bundle": lambda r: b"#bundle\0" + r.randbytes(4 * r.randrange(2, 200)),
        "deep_bundle": nested,
        "ten_deep": just_over,
        "many_elements": bundle([message("/j")] * 600),
        "far_future": bundle([junk_msg], timetag=0xFFFFFFFF_00000000),
        "oversize": message("/junk/oversize", "b", struct.pack(">i", 60000) + b"\x55" * 60000),
        "no_terminator": b"/stage/tempo",
    }


# ---------------------------------------------------------------------------- the senders
_stopping = False


def _stop(signum: int, frame: object) -> None:
    global _stopping
    _stopping = True


def _send_loop(sock: socket.socket, port: int, seconds: float, make) -> tuple[int, float]:
    """Send `make(n, now)` RATE times a second until told to stop, the time is up or the
    parent is gone; `make.sent(n)` is told of each datagram sent. Returns (attempted, seconds)."""
    parent = os.getppid()
    target = ("127.0.0.1", port)
    t0 = time.perf_counter()
    n = 0
    while not _stopping and os.getppid() == parent:
        now = time.perf_counter()
        if now - t0 >= seconds:
            break
        due = int((now - t0) * RATE) + 1
        while n < due:
            dgram = make(n, now)
            n += 1
            try:
                sock.sendto(dgram, target)
            except OSError:
                make.errors += 1
                continue
            make.sent(n - 1)
        time.sleep(0.001)
    return n, time.perf_counter() - t0


class _Valid:
    """The valid messages, and what was sent of them."""

    def __init__(self, cue_count: int) -> None:
        self.cue_count = cue_count
        self.heads = {name: _s(a.encode()) + _s(b",f") for name, (a, _, _) in TARGETS.items()}
        self.counts = dict.fromkeys(TARGETS, 0)
        self.beats = 0
        self.cues: list[int] = []
        self.errors = 0
        self.next_cue = time.perf_counter() + CUE_EVERY_S / 2
        self._pending: tuple[str, Any] = ("", None)

    def __call__(self, n: int, now: float) -> bytes:
        if now >= self.next_cue:
            self.next_cue += CUE_EVERY_S
            index = len(self.cues) % self.cue_count
            self._pending = ("cue", index)
            return message("/stage/cue/go", "i", struct.pack(">i", index))
        if n % BEAT_EVERY == 0:
            self._pending = ("beat", None)
            return message("/stage/beat")
        name = CYCLE[n % len(CYCLE)]
        _, base, step = TARGETS[name]
        self._pending = (name, None)
        return self.heads[name] + struct.pack(">f", base + self.counts[name] * step)

    def sent(self, n: int) -> None:
        kind, value = self._pending
        if kind == "cue":
            self.cues.append(value)
        elif kind == "beat":
            self.beats += 1
        else:
            self.counts[kind] += 1


class _Junk:
    def __init__(self) -> None:
        self.kinds = list(junk_kinds().items())
        self.rng = random.Random(11)
        self.counts: Counter[str] = Counter()
        self.errors = 0
        self._kind = ""

    def __call__(self, n: int, now: float) -> bytes:
        self._kind, make = self.kinds[n % len(self.kinds)]
        return make(self.rng) if callable(make) else make

    def sent(self, n: int) -> None:
        self.counts[self._kind] += 1


def sender_main(argv: list[str]) -> int:
    """`soak.py --sender valid|junk PORT SECONDS CUES`: send until SIGTERM, then print JSON."""
    role, port, seconds, cue_count = argv[0], int(argv[1]), float(argv[2]), int(argv[3])
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sock.bind(("127.0.0.1" if role == "valid" else "127.0.0.2", 0))
    make = _Valid(cue_count) if role == "valid" else _Junk()
    n, took = _send_loop(sock, port, seconds, make)
    if role == "valid":
        out = {"targets": make.counts, "beats": make.beats, "cues": make.cues}
    else:
        out = {"kinds": dict(make.counts)}
    out.update(attempted=n, seconds=round(took, 3), send_errors=make.errors)
    print(json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------------------- the show
class StageProcess:
    """The show in its own process; a thread reads its log (to a file) and notes what the
    benchmark counts, as it goes."""

    SUMMARY = re.compile(r" stage INFO: (\{.*\})\s*$")
    HEALTH = re.compile(r"health: (\S+) (ok|degraded|failed|off)\b")
    LISTENING = re.compile(r"OSC: listening on (\S+):(\d+)")

    def __init__(self, cmd: list[str], cwd: Path, log_path: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # a Ctrl-C reaches the benchmark, which ends the show
        )
        self.pid = self.proc.pid
        self.listening = threading.Event()
        self.port = 0
        self.stalls = 0
        self.health_lines: Counter[tuple[str, str]] = Counter()
        self.summary: dict | None = None
        self.record_stopped: tuple[float, str] | None = None
        self.problems: dict[str, int] = {}
        self.tail: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(log_path,), daemon=True)
        self._thread.start()

    def _read(self, log_path: Path) -> None:
        assert self.proc.stderr is not None
        with open(log_path, "w", encoding="utf-8") as out:
            for line in self.proc.stderr:
                out.write(line)
                self._note(line, time.monotonic())
                self.tail = (self.tail + [line])[-40:]

    def _note(self, line: str, now: float) -> None:
        if m := self.LISTENING.search(line):
            self.port = int(m.group(2))
            self.listening.set()
        elif "stall: no frame presented" in line:
            self.stalls += 1
        elif m := self.SUMMARY.search(line):
            with contextlib.suppress(json.JSONDecodeError):
                self.summary = json.loads(m.group(1))
            return
        if m := self.HEALTH.search(line):
            self.health_lines[(m.group(1), m.group(2))] += 1
        if "recording stopped" in line and self.record_stopped is None:
            self.record_stopped = (now, line.split(": ", 1)[-1].strip())
        if " ERROR: " in line or line.startswith("Traceback") or "CRITICAL" in line:
            text = re.sub(r"\b\d+(\.\d+)?\b", "N", line.split(": ", 1)[-1].strip())[:200]
            if text in self.problems or len(self.problems) < 40:
                self.problems[text] = self.problems.get(text, 0) + 1

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kb(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def terminate(self, timeout: float = 60.0) -> tuple[float, int | None]:
        """SIGTERM; (seconds to exit, exit code). SIGKILL after `timeout` (code None)."""
        t0 = time.monotonic()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        took = time.monotonic() - t0
        self._thread.join(10)
        return took, code


def udp_drops(port: int) -> int | None:
    """The kernel's drop count for the UDP socket bound to `port` (receive buffer overruns)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 12 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return int(fields[-1])
    return None


# --------------------------------------------------------------------------- the faults
def make_clip(path: Path, seconds: float = 3.0, fps: int = 30, size=(640, 480)) -> Path:
    """A looping clip of scikit-image's astronaut (a real face) moving and turning a little."""
    import cv2
    from skimage import data

    face = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (300, 300))
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    n = int(seconds * fps)
    for i in range(n):
        u = 2 * np.pi * i / n
        m = cv2.getRotationMatrix2D((150, 150), 12 * np.sin(u), 1.0 + 0.1 * np.sin(2 * u))
        tile = cv2.warpAffine(face, m, (300, 300), borderMode=cv2.BORDER_REFLECT)
        frame = np.full((h, w, 3), 30, np.uint8)
        x = int((w - 300) / 2 + 100 * np.sin(u))
        y = int((h - 300) / 2 + 50 * np.cos(u))
        frame[y : y + 300, x : x + 300] = tile
        writer.write(frame)
    writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"could not write the camera clip {path}")
    return path


class CameraFlapper(threading.Thread):
    """Every `cycle` s, the clip is renamed away for `away` s, then back."""

    def __init__(self, clip: Path, cycle: float, away: float) -> None:
        super().__init__(name="camera-flapper", daemon=True)
        self.clip, self.cycle, self.away = clip, cycle, away
        self.hidden = clip.with_name(clip.name + ".away")
        self.flaps = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.cycle - self.away):
            os.replace(self.clip, self.hidden)
            self.flaps += 1
            self.stop.wait(self.away)
            self.restore()

    def restore(self) -> None:
        if self.hidden.exists():
            os.replace(self.hidden, self.clip)


class SmallDisk:
    """A tmpfs for the recording, resized once to fill at the right time; or, when it cannot
    be mounted, a folder on the normal disk (`mounted` False, `note` says why)."""

    def __init__(self, path: Path, mb: int) -> None:
        self.path, self.mounted, self.note = path, False, ""
        self.size_mb: float | None = None
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.note = "not root: recording on the normal disk"
            return
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={mb}m,mode=0755", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            self.note = f"mount failed ({done.stderr.strip()}): recording on the normal disk"
            return
        self.mounted, self.size_mb = True, float(mb)

    def used(self) -> int:
        return shutil.disk_usage(self.path).used

    def resize(self, mb: float) -> bool:
        kb = int(mb * 1024)
        done = subprocess.run(
            ["mount", "-o", f"remount,size={kb}k", str(self.path)], capture_output=True, text=True
        )
        if done.returncode == 0:
            self.size_mb = kb / 1024
        else:
            self.note += f" resize to {mb:.0f} MB failed: {done.stderr.strip()}"
        return done.returncode == 0

    def close(self) -> None:
        if not self.mounted:
            return
        for cmd in (["umount", str(self.path)], ["umount", "-l", str(self.path)]):
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                self.mounted = False
                return
        print(f"soak: could not unmount {self.path}", file=sys.stderr)


class Sizing:
    """Sizes the small disk to fill at FILL_AT of the run. The recording's file grows in
    chunks (256 KB) once its first frames are encoded; its bytes/s, measured from the first
    chunks over `window` s, sets the size. If it is not full at FILL_AT, it is shrunk to what
    is used (the next write fills it). Notes when it filled."""

    def __init__(self, disk: SmallDisk, seconds: float, estimate_mb_s: float) -> None:
        self.disk, self.seconds, self.estimate = disk, seconds, estimate_mb_s
        self.window = min(180.0, max(5.0, 0.1 * seconds))
        self.base: int | None = None
        self.used0: tuple[float, int] | None = None
        self.sized = self.forced = False
        self.rate: float | None = None
        self.measured: list[float] = []
        self.full_at: float | None = None

    def update(self, elapsed: float) -> None:
        disk = self.disk
        if not disk.mounted or self.full_at is not None:
            return
        used = disk.used()
        self.base = used if self.base is None else self.base
        fill_at = FILL_AT * self.seconds
        if self.used0 is None and used > self.base + 2**18:  # the recording flows
            self.used0 = (elapsed, used)
        elif not self.sized and (
            (self.used0 is not None and elapsed >= self.used0[0] + self.window)
            or elapsed >= 0.75 * fill_at
        ):
            self.sized = True
            t0, u0 = self.used0 or (0.0, self.base)
            self.measured = [t0, elapsed]
            self.rate = (used - u0) / max(elapsed - t0, 1e-3)
            rate = self.rate if self.rate > 0 else self.estimate * 2**20
            left = max(1.0, fill_at - elapsed)
            disk.resize(max(used / 2**20 + 1, (used + rate * left) / 2**20))
        elif self.sized and not self.forced and elapsed >= fill_at:
            self.forced = True
            disk.resize(used / 2**20 + 0.25)
        if shutil.disk_usage(disk.path).free < 16 * 2**10:
            self.full_at = elapsed

    def figures(self) -> dict[str, Any]:
        if not self.disk.mounted and self.disk.size_mb is None:
            return {}
        full = self.full_at
        return {
            "measured_mb_per_s": round(self.rate / 2**20, 3) if self.rate is not None else None,
            "measured_over_s": [round(t, 1) for t in self.measured],
            "tmpfs_mb": round(self.disk.size_mb or 0, 1),
            "shrunk_at_fill_time": self.forced,
            "full_at_s": round(full, 1) if full is not None else None,
            "full_at_pct": round(100 * full / self.seconds, 1) if full is not None else None,
        }


def mem_available_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 4096.0


# ---------------------------------------------------------------------------- analysis
def frame_figures(path: Path, budget_ms: float) -> dict[str, Any]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        return {"error": str(e)}
    xs = np.array([float(r["interval_ms"]) for r in rows if r.get("interval_ms")])
    if not len(xs):
        return {"frames": len(rows)}
    # The `recorded` column counts frames in the recording so far: up to the row where it
    # stops growing (the disk filled), the frames presented the recorder did not take.
    recorded = [int(r["recorded"]) for r in rows if r.get("recorded")]
    most = max(recorded, default=0)
    until = recorded.index(most) + 1 if most else 0
    return {
        "recorded_of_presented": [most, until],
        "recorder_drop_pct": round(100 * (1 - most / until), 1) if until else None,
        "frames": len(rows),
        "fps": round(1000 * len(xs) / xs.sum(), 2),
        "interval_p50_ms": round(float(np.percentile(xs, 50)), 2),
        "interval_p99_ms": round(float(np.percentile(xs, 99)), 2),
        "interval_max_ms": round(float(xs.max()), 2),
        "missed_pct": round(100 * float((xs > 1.5 * budget_ms).mean()), 3),
    }


def count_cues(events_path: Path, sent: dict, coalesced: int | None) -> dict[str, Any]:
    """The event log against what the valid sender sent (see the module's docstring)."""
    beats = 0
    cues: list[int] = []
    ks: dict[str, list[int]] = {name: [] for name in TARGETS}
    unexpected = bad_lines = 0
    try:
        f = open(events_path, encoding="utf-8")  # noqa: SIM115
    except OSError as e:
        return {"error": f"no event log: {e}"}
    with f:
        for line in f:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                bad_lines += 1
                continue
            if ev.get("kind") != "cue" or ev.get("source") != "osc":
                continue
            action, args = ev.get("action"), ev.get("args") or []
            if action == "beat":
                beats += 1
            elif action == "cue":
                cues.append(args[0])
            elif action in ("param", "tempo"):
                name, value = (args[0], args[1]) if action == "param" else ("tempo", args[0])
                if name not in TARGETS:
                    unexpected += 1
                    continue
                _, base, step = TARGETS[name]
                k = (value - base) / step
                if k != int(k) or np.float32(value) != value:
                    unexpected += 1
                    continue
                ks[name].append(int(k))
            else:
                unexpected += 1
    targets: dict[str, dict[str, int]] = {}
    final_missing = disorder = 0
    for name, got in ks.items():
        n = sent["targets"][name]
        wrong = sum(1 for k in got if not 0 <= k < n)
        out_of_order = sum(1 for a, b in zip(got, got[1:], strict=False) if b <= a)
        has_last = n == 0 or (bool(got) and got[-1] == n - 1)
        targets[name] = {"sent": n, "logged": len(got), "out_of_order": out_of_order}
        unexpected += wrong
        disorder += out_of_order
        final_missing += not has_last
    sent_cues = sent["cues"]
    discrete_sent = sent["beats"] + len(sent_cues)
    discrete_logged = beats + len(cues)
    discrete_lost = max(0, sent["beats"] - beats) + max(0, len(sent_cues) - len(cues))
    unexpected += max(0, beats - sent["beats"]) + max(0, len(cues) - len(sent_cues))
    continuous_sent = sum(t["sent"] for t in targets.values())
    continuous_logged = sum(t["logged"] for t in targets.values())
    unaccounted = None
    if coalesced is not None:
        unaccounted = continuous_sent - continuous_logged - coalesced
    lost = discrete_lost + final_missing + max(0, unaccounted or 0)
    return {
        "cues_sent": discrete_sent + continuous_sent,
        "cues_logged": discrete_logged + continuous_logged,
        "cues_lost": lost,
        "cues_coalesced": coalesced,
        "discrete": {
            "sent": discrete_sent,
            "logged": discrete_logged,
            "lost": discrete_lost,
            "beats": [sent["beats"], beats],
            "cue_go": [len(sent_cues), len(cues)],
            "cue_go_in_order": cues == sent_cues[: len(cues)],
        },
        "continuous": {
            "sent": continuous_sent,
            "logged": continuous_logged,
            "final_value_missing": final_missing,
            "out_of_order": disorder,
            "neither_logged_nor_coalesced": unaccounted,
            "accounting": "sent = logged + coalesced" if coalesced is not None else "final value",
            "targets": targets,
        },
        "unexpected_cues": unexpected,
        "bad_log_lines": bad_lines,
    }


@contextlib.contextmanager
def _quiet_stderr():
    """FFmpeg (inside OpenCV and PyAV) prints to fd 2 about a cut-off file: that is the finding
    reported, not noise for the table."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_video(path: Path, limit_s: float = 300.0) -> dict[str, Any]:
    """Is the recording readable: its frames by demuxing (PyAV: packets, no decode), then
    decoded by OpenCV from the start until one fails (for at most `limit_s`). A file cut off by
    a full disk is readable when it decodes; the frames its cut-off tail loses are counted."""
    import cv2

    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    out: dict[str, Any] = {"exists": path.is_file(), "partial_left": partial.is_file()}
    if not path.is_file():  # never finished: is what was written readable?
        if not partial.is_file():
            return {**out, "readable": False}
        path = partial
    out["size_mb"] = round(path.stat().st_size / 2**20, 2)
    frames, duration = None, None
    decoded, complete = 0, True
    with _quiet_stderr():
        try:
            import av

            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                pts = [p.pts for p in container.demux(stream) if p.size and p.pts is not None]
                if pts:
                    frames = len(pts)
                    step = (max(pts) - min(pts)) / max(frames - 1, 1)
                    duration = float((max(pts) - min(pts) + step) * stream.time_base)
        except Exception as e:  # noqa: BLE001 - a broken file is a result here
            out["demux_error"] = f"{type(e).__name__}: {e}"
        cap = cv2.VideoCapture(str(path))
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        deadline = time.monotonic() + limit_s
        while cap.isOpened() and cap.grab():
            decoded += 1
            if time.monotonic() > deadline:
                complete = False
                break
        cap.release()
    out.update(
        readable=decoded > 0,
        frames=frames,
        duration_s=round(duration, 2) if duration is not None else None,
        frames_decoded=decoded if complete else f">= {decoded}",
        decoded_s=round(decoded / fps, 2) if fps else None,
        tail_lost_frames=frames - decoded if frames is not None and complete else None,
    )
    return out


def rss_figures(samples: list[tuple[float, int]], warmup: float, seconds: float) -> dict:
    """RSS (MB): after warm-up, at 10 % of the run, at the end; growth by a linear fit."""
    after = [(t, kb / 1024) for t, kb in samples if t >= warmup]
    if not after:
        return {"samples": len(samples)}

    def at(t_: float) -> float:
        return round(min(after, key=lambda s: abs(s[0] - t_))[1], 1)

    ts = np.array([t for t, _ in after]) / 3600
    mb = np.array([m for _, m in after])
    growth = float(np.polyfit(ts, mb, 1)[0]) if len(after) >= 3 and np.ptp(ts) > 0 else None
    return {
        "start": round(after[0][1], 1),
        "at_10pct": at(0.1 * seconds),
        "end": round(after[-1][1], 1),
        "max": round(float(mb.max()), 1),
        "growth_mb_per_hour": round(growth, 1) if growth is not None else None,
        "warmup_s": round(warmup, 1),
        "samples": len(after),
    }


# ------------------------------------------------------------------------------- the run
class Soak:
    """One soak run; `close()` undoes everything, on every path."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.seconds = args.minutes * 60
        self.work = Path(tempfile.mkdtemp(prefix="soak-"))
        self.stage: StageProcess | None = None
        self.senders: dict[str, subprocess.Popen] = {}
        self.flapper: CameraFlapper | None = None
        self.disk: SmallDisk | None = None
        self.sampling = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self.t0 = 0.0

    # -- pieces
    def _start_sender(self, role: str, port: int, cue_count: int) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--sender", role, str(port)]
        cmd += [str(self.seconds + 600), str(cue_count)]
        self.senders[role] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )

    def _stop_senders(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for p in self.senders.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for role, p in self.senders.items():
            try:
                out, err = p.communicate(timeout=15)
                results[role] = json.loads(out.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                results[role] = {"error": "did not stop"}
            except (json.JSONDecodeError, IndexError):
                results[role] = {"error": f"no result (exit {p.returncode}): {err[-500:]}"}
        self.senders.clear()
        return results

    def _sample(self, every: float) -> None:
        while not self.sampling.wait(every):
            kb = self.stage.rss_kb() if self.stage else None
            if kb is not None:
                self.samples.append((time.monotonic() - self.t0, kb))

    # -- the run
    def run(self) -> dict[str, Any]:
        from performer.show import load_show

        args, seconds, work = self.args, self.seconds, self.work
        show = load_show(args.show)
        fps = show.output.fps
        clip = make_clip(work / "camera.mp4")
        est_mb_s = 1.0  # H.264 ultrafast at 720p (bench/record.py: ≈ 63 MB a minute)
        # Room enough at first that the recorder's low-disk warning (500 MB) is not on yet.
        first_mb = min(max(1024, 3 * est_mb_s * FILL_AT * seconds), mem_available_mb() / 3)
        self.disk = disk = SmallDisk(work / "rec", int(first_mb))
        record = disk.path / "soak.mp4"
        events = work / "soak.events.jsonl"
        if disk.mounted:  # the cue log stays on a disk with room: see the module's docstring
            (disk.path / "soak.events.jsonl").symlink_to(events)
        else:
            events = disk.path / "soak.events.jsonl"
        frames = work / "frames.csv"
        cmd = [sys.executable, "-m", "performer.cli", "run", str(args.show.resolve())]
        cmd += ["--headless", "--seconds", str(seconds + 900), "--osc-port", "0"]
        cmd += ["--frame-log", str(frames), "--record", str(record), "--camera", str(clip)]
        cmd += ["--size", args.size] if args.size else []
        launched = time.monotonic()
        self.stage = stage = StageProcess(cmd, work, work / "stage.log")
        while not stage.listening.wait(0.5):
            if not stage.alive() or time.monotonic() - launched > 600:
                raise RuntimeError("the show did not start:\n" + "".join(stage.tail))
        self.t0 = t0 = time.monotonic()
        started_s = t0 - launched
        self._start_sender("valid", stage.port, len(show.cues))
        self._start_sender("junk", stage.port, len(show.cues))
        cycle = min(60.0, max(15.0, seconds / 6))
        self.flapper = CameraFlapper(clip, cycle, away=max(6.0, cycle / 6))
        self.flapper.start()
        every = min(5.0, max(0.5, seconds / 720))
        threading.Thread(target=self._sample, args=(every,), daemon=True).start()
        warmup = min(60.0, max(5.0, 0.05 * seconds))
        sizing = Sizing(disk, seconds, est_mb_s)
        died_at = None
        print(f"soak: {args.minutes:g} min of {args.show.name}, pid {stage.pid}, work {work}")
        next_note = 60.0
        while (elapsed := time.monotonic() - t0) < seconds:
            if not stage.alive():
                died_at = elapsed
                break
            sizing.update(elapsed)
            if elapsed >= next_note:
                next_note += 60.0
                print(f"soak: {elapsed / 60:.0f} / {args.minutes:g} min", flush=True)
            time.sleep(0.25)
        run_s = time.monotonic() - t0
        sent = self._stop_senders()
        self.flapper.stop.set()
        self.flapper.join(2)
        self.flapper.restore()
        if died_at is None:
            time.sleep(2.0)  # the last cues drained and logged
        drops = udp_drops(stage.port)
        kb = stage.rss_kb()
        if kb is not None:
            self.samples.append((time.monotonic() - t0, kb))
        self.sampling.set()
        exit_s, code = stage.terminate()
        summary = stage.summary or {}
        health = summary.get("health", {})
        osc = health.get("osc", {})
        coalesced = osc.get("coalesced", summary.get("osc", {}).get("coalesced"))
        valid = sent.get("valid", {})
        if "targets" in valid:
            cues = count_cues(events, valid, coalesced)
        else:
            cues = {"cues_lost": None, "error": f"valid sender: {valid}"}
        stopped = stage.record_stopped
        video = check_video(record)
        result = {
            "machine": {
                "cpu_count": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "show": str(
                args.show.relative_to(ROOT) if args.show.is_relative_to(ROOT) else args.show
            ),
            "minutes": args.minutes,
            "run_s": round(run_s, 1),
            "startup_s": round(started_s, 1),
            "died_at_s": round(died_at, 1) if died_at is not None else None,
            "rss_mb": rss_figures(self.samples, warmup, seconds),
            "frames": frame_figures(frames, 1000 / fps),
            "stalls": stage.stalls,
            "restarts": {p: h["restarts"] for p, h in health.items() if "restarts" in h},
            "health": health,
            "health_lines": _nested(stage.health_lines),
            "recorder": {
                k: health.get("recorder", {}).get(k)
                for k in ("state", "frames", "dropped", "repeated", "detail")
            },
            "osc": {**osc, "kernel_udp_drops": drops},
            **{k: cues.get(k) for k in ("cues_sent", "cues_logged", "cues_lost")},
            "cues_coalesced": coalesced,
            "cue_detail": cues,
            "senders": sent,
            "camera": {
                "cycle_s": cycle,
                "away_s": self.flapper.away,
                "flaps": self.flapper.flaps,
                "losses": health.get("camera", {}).get("losses"),
            },
            "recording": {
                "fs": "tmpfs" if disk.size_mb is not None else "disk",
                "note": disk.note or None,
                **sizing.figures(),
                "stopped_at_s": round(stopped[0] - t0, 1) if stopped else None,
                "stopped": stopped[1] if stopped else None,
                **video,
            },
            "exit": {
                "after_sigterm_s": round(exit_s, 2) if died_at is None else None,
                "code": code,
                "summary_logged": stage.summary is not None,
            },
            "problems": stage.problems,
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if args.keep:
            shutil.copy2(work / "stage.log", args.out / "soak.stage.log")
        return result

    def close(self) -> None:
        """Stop everything this run started and unmount; safe on any path, twice."""
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.sampling.set()
            if self.senders:
                self._stop_senders()
            if self.flapper is not None:
                self.flapper.stop.set()
                self.flapper.restore()
            if self.stage is not None and self.stage.alive():
                self.stage.terminate(timeout=10)
            if self.disk is not None:
                self.disk.close()
            shutil.rmtree(self.work, ignore_errors=True)
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def _nested(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (part, state), n in sorted(counts.items()):
        out.setdefault(part, {})[state] = n
    return out


def print_table(r: dict[str, Any]) -> None:
    """The figures, one line each; `a / b / c` reads as the label's parts in order."""

    def some(d: dict, *keys: str) -> str:
        return " / ".join(str(d.get(k)) for k in keys)

    rec, died = r["recording"], r["died_at_s"]
    rows = [
        ("minutes (run s, died at s)", f"{r['minutes']:g} ({r['run_s']}, {died})"),
        ("RSS MB start / 10% / end", some(r["rss_mb"], "start", "at_10pct", "end")),
        ("RSS growth MB/h", r["rss_mb"].get("growth_mb_per_hour")),
        ("interval ms p50 / p99 / max", some(r["frames"], *INTERVALS)),
        ("missed %", r["frames"].get("missed_pct")),
        ("stalls", r["stalls"]),
        ("restarts", ", ".join(f"{k} {v}" for k, v in r["restarts"].items()) or "-"),
        ("recorder state / frames / dropped", some(r["recorder"], "state", "frames", "dropped")),
        ("recorder drops while recording %", r["frames"].get("recorder_drop_pct")),
        ("OSC dropped / rate-limited / kernel", some(r["osc"], *OSC_DROPS)),
        ("cues sent / logged / lost", some(r, "cues_sent", "cues_logged", "cues_lost")),
        ("cues coalesced", r["cues_coalesced"]),
        ("camera flaps / losses", some(r["camera"], "flaps", "losses")),
        ("recording on / MB", f"{rec['fs']} / {rec.get('tmpfs_mb')}"),
        ("disk full at s / %", some(rec, "full_at_s", "full_at_pct")),
        ("recording readable / frames / decoded", some(rec, "readable", *VIDEO)),
        ("exit after SIGTERM s / code", some(r["exit"], "after_sigterm_s", "code")),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--sender"]:
        return sender_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="run length (report: 60)")
    ap.add_argument("--show", type=Path, default=ROOT / "show.toml")
    ap.add_argument("--size", help="override the show's output resolution, WxH")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--keep", action="store_true", help="also save the show's log to --out")
    args = ap.parse_args(argv)
    if not 0 < args.minutes <= MAX_MINUTES:
        ap.error(f"--minutes: 0 < minutes ≤ {MAX_MINUTES:g}")
    args.out.mkdir(parents=True, exist_ok=True)

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    ends = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGINT too: a background job's
    previous = {sig: signal.signal(sig, terminated) for sig in ends}  # may start ignoring it
    soak = Soak(args)
    try:
        result = soak.run()
    except KeyboardInterrupt:
        print("soak: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        soak.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print_table(result)
    save_results(args.out, "soak.json", result)
    if result["died_at_s"] is not None:
        print(f"soak: the show died after {result['died_at_s']} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
