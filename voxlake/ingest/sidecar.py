"""Label sidecars: speaker/source labels (and any other columns) for inbox files.

Two forms, both beside the audio:
- `<stem>.json` for one file: {"speaker": "...", "source": "...", ...}
- `labels.csv` for a folder and its subfolders: a `path` column (relative to the CSV's
  folder) and label columns.
A file's JSON sidecar wins over CSV rows, and the nearest labels.csv over those above it.
`speaker` and `source` must be short printable strings; other columns are kept as they
are in `labels` (JSON). A bad value, a row whose
path leaves the inbox or names no file, or an unreadable sidecar is reported with a
reason; the audio itself still goes on, without the bad labels.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

LABEL_KEYS = ("speaker", "source")
MAX_LEN = 200
CSV_NAME = "labels.csv"


@dataclass(frozen=True)
class Labels:
    speaker: str | None = None
    source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SidecarIssue:
    sidecar: str  # path relative to the inbox
    reason: str
    detail: str


def valid_label(value: object) -> str | None:
    """A speaker or source label: printable text up to MAX_LEN characters, else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    v = value.strip()
    if not v or len(v) > MAX_LEN or not v.isprintable():
        return None
    return v


def _labels(rel: str, raw: dict[str, object], sidecar: str) -> tuple[Labels, list[SidecarIssue]]:
    issues = []
    known: dict[str, str | None] = {}
    for key in LABEL_KEYS:
        if key in raw and raw[key] not in (None, ""):
            known[key] = valid_label(raw[key])
            if known[key] is None:
                issues.append(
                    SidecarIssue(
                        sidecar,
                        "bad_sidecar",
                        f"{rel}: {key} must be printable text up to {MAX_LEN} "
                        f"characters, got {str(raw[key])[:40]!r}",
                    )
                )
    extra = {
        str(k)[:MAX_LEN]: str(v)[:1000]
        for k, v in raw.items()
        if k not in LABEL_KEYS and k != "path" and v not in (None, "")
    }
    return Labels(known.get("speaker"), known.get("source"), extra), issues


def _inside(inbox: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(inbox.resolve())
        return True
    except (ValueError, OSError, RuntimeError):
        return False


@lru_cache(maxsize=256)
def _read_csv(path: Path, mtime_ns: int) -> tuple[list[dict[str, str]] | None, str]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return None, str(e)[:200]
    return rows, ""


def _csv_labels(
    inbox: Path, folder: Path
) -> tuple[dict[str, dict[str, object]], list[SidecarIssue]]:
    path = folder / CSV_NAME
    if not path.is_file():
        return {}, []
    rel_csv = path.relative_to(inbox).as_posix()
    rows, error = _read_csv(path, path.stat().st_mtime_ns)
    if rows is None:
        return {}, [SidecarIssue(rel_csv, "bad_sidecar", f"unreadable CSV: {error}")]
    if rows and "path" not in rows[0]:
        return {}, [SidecarIssue(rel_csv, "bad_sidecar", "CSV has no 'path' column")]
    out: dict[str, dict[str, object]] = {}
    issues = []
    for i, row in enumerate(rows, start=2):
        p = (row.get("path") or "").strip()
        target = folder / p
        if not p or PurePosixPath(p).is_absolute() or not _inside(inbox, target):
            issues.append(
                SidecarIssue(
                    rel_csv, "bad_sidecar", f"line {i}: path {p!r} is not inside the inbox"
                )
            )
            continue
        if not target.is_file():
            issues.append(SidecarIssue(rel_csv, "bad_sidecar", f"line {i}: no file {p!r}"))
            continue
        out[target.resolve().relative_to(inbox.resolve()).as_posix()] = dict(row)
    return out, issues


def collapse(issues: list[SidecarIssue], shown: int = 3) -> list[SidecarIssue]:
    """One issue per sidecar and reason: a 10,000-line labels file with 9,996 bad lines is
    one problem of that file (its count and first lines in the detail), not 9,996."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for i in issues:
        grouped.setdefault((i.sidecar, i.reason), []).append(i.detail)
    out = []
    for (sidecar, reason), details in grouped.items():
        detail = details[0]
        if len(details) > 1:
            more = f"; ... {len(details) - shown} more" if len(details) > shown else ""
            detail = f"{len(details)} problems: " + "; ".join(details[:shown]) + more
        out.append(SidecarIssue(sidecar, reason, detail[:1000]))
    return out


def labels_for(inbox: Path, rels: list[str]) -> tuple[dict[str, Labels], list[SidecarIssue]]:
    """Labels of the given inbox files (relative paths) and the problems found on the way."""
    result: dict[str, Labels] = {}
    issues: list[SidecarIssue] = []
    folders: dict[Path, dict[str, dict[str, object]]] = {}
    for rel in rels:
        audio = inbox / rel
        raw: dict[str, object] = {}
        for folder in [inbox, *reversed(audio.relative_to(inbox).parents[:-1])]:
            folder = inbox / folder if folder != inbox else inbox
            if folder not in folders:
                folders[folder], found = _csv_labels(inbox, folder)
                issues += found
            raw.update(folders[folder].get(rel, {}))  # the nearest labels.csv wins
        sidecar = rel
        js = audio.with_suffix(".json")
        if js != audio and js.is_file():
            sidecar = js.relative_to(inbox).as_posix()
            try:
                data = json.loads(js.read_text(encoding="utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                raw.update(data)
            except (OSError, ValueError) as e:
                issues.append(SidecarIssue(sidecar, "bad_sidecar", f"unreadable JSON: {e}"[:200]))
        if raw:
            labels, found = _labels(rel, raw, sidecar)
            result[rel] = labels
            issues += found
    return result, collapse(issues)
