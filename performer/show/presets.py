"""The presets file beside a show: what rehearsal saves (scenes, MIDI-learned controls),
appended atomically (temp file + rename). The show file itself is never written."""

from __future__ import annotations

from pathlib import Path


def append_table(path: Path, table: str, header: str) -> None:
    """Append a TOML table to the presets file (started with `header` when new)."""
    old = path.read_text(encoding="utf-8") if path.exists() else header
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(old.rstrip("\n") + "\n\n" + table, encoding="utf-8")
    tmp.replace(path)
