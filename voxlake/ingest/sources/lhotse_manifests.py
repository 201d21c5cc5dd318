"""Lhotse manifests, read by Lhotse's own loaders (the `export` extra installs it):
- a recordings manifest and a supervisions manifest (`*recordings*.jsonl[.gz]` and
  `*supervisions*.jsonl[.gz]` in a folder, or a recordings file given alone): each
  supervision is an utterance, a segment of its recording;
- a Shar folder (`cuts.N.jsonl.gz` beside `recording.N.tar`): each cut's audio is the
  bytes in the tar, content-addressed into the lake, and its supervisions are its
  utterances.

A recording whose source is a command is never run (`pipe_command`); a URL is not fetched
(`unsupported_source`). Supervision fields `text`, `speaker`, `language`, `gender` become
columns; `custom` becomes labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from voxlake.ingest.sources.item import ManifestError, SourceItem, resolve, sniff_suffix
from voxlake.ingest.sources.registry import register


def _labels(custom: dict[str, Any] | None) -> dict[str, Any]:
    """A supervision's or cut's `custom` as labels; of voxlake's own export (its `batch`
    and `labels` keys), the labels it was made from (the rest is the lake's)."""
    custom = dict(custom or {})
    labels = custom.get("labels")
    if "batch" in custom and isinstance(labels, dict):
        return dict(labels)
    return custom


def _lhotse() -> Any:
    try:
        import lhotse
    except ImportError:
        raise ManifestError(
            "lhotse", None, "reading Lhotse manifests needs Lhotse: pip install 'voxlake[export]'"
        ) from None
    return lhotse


def _source(recording: Any, base: Path) -> tuple[str | None, tuple[str, str] | None]:
    sources = recording.sources
    if len(sources) != 1:
        return None, ("unsupported_source", f"{len(sources)} audio sources (one per channel)")
    src = sources[0]
    if src.type == "command":
        return None, ("pipe_command", f"a command source, never run: {str(src.source)[:120]}")
    if src.type != "file":
        return None, ("unsupported_source", f"a {src.type} source is not read: {src.source!s:.120}")
    return resolve(base, src.source), None


def _supervision_item(sup: Any, where: str, labels: dict[str, object]) -> SourceItem:
    return SourceItem(
        where=where,
        utterance=sup.id,
        start_s=float(sup.start),
        end_s=float(sup.start) + float(sup.duration),
        text=sup.text,
        speaker=sup.speaker,
        language=sup.language,
        gender=sup.gender,
        labels={**labels, **_labels(sup.custom)},
    )


def _manifest_files(folder: Path, kind: str) -> list[Path]:
    return sorted(p for p in folder.glob(f"*{kind}*.json*") if p.is_file())


def _manifests(path: Path) -> Iterator[SourceItem]:
    lhotse = _lhotse()
    folder = path if path.is_dir() else path.parent
    rec_files = [path] if path.is_file() else _manifest_files(folder, "recordings")
    sup_files = [] if path.is_file() else _manifest_files(folder, "supervisions")
    if not rec_files:
        raise ManifestError(path, None, "no recordings manifest (*recordings*.jsonl.gz)")
    recordings: dict[str, Any] = {}
    for f in rec_files:
        try:
            for rec in lhotse.load_manifest_lazy(f):
                recordings[rec.id] = rec
        except Exception as e:  # Lhotse raises whatever its parser met
            raise ManifestError(f, None, f"not a Lhotse recordings manifest ({e})"[:300]) from None
    if not sup_files:  # recordings alone: each is one utterance
        for i, rec in enumerate(recordings.values(), start=1):
            audio, problem = _source(rec, folder)
            yield SourceItem(
                where=f"{rec_files[0]}:{i}", utterance=rec.id, path=audio, problem=problem
            )
        return
    for f in sup_files:
        try:
            for n, sup in enumerate(lhotse.load_manifest_lazy(f), start=1):
                item = _supervision_item(sup, f"{f}:{n}", {})
                rec = recordings.get(sup.recording_id)
                if rec is None:
                    problem = ("missing", f"recording {sup.recording_id!r} is in no manifest")
                    yield replace(item, problem=problem)
                    continue
                audio, problem = _source(rec, folder)
                yield replace(item, path=audio, problem=problem)
        except ManifestError:
            raise
        except Exception as e:
            raise ManifestError(
                f, None, f"not a Lhotse supervisions manifest ({e})"[:300]
            ) from None


def _shar(path: Path) -> Iterator[SourceItem]:
    lhotse = _lhotse()
    for n, cut in enumerate(lhotse.CutSet.from_shar(in_dir=path), start=1):
        labels = _labels(cut.custom)
        data = cut.recording.sources[0].source
        sups = cut.supervisions or []
        if not isinstance(data, bytes):
            yield SourceItem(
                where=f"{path}:{n}",
                utterance=cut.id,
                problem=("missing", "a Shar cut without its audio bytes"),
            )
            continue
        suffix = sniff_suffix(data)
        whole = SourceItem(
            where=f"{path}:{n}",
            utterance=cut.id,
            data=data,
            suffix=suffix,
            labels=labels,
        )
        if not sups:
            yield whole
            continue
        for sup in sups:  # the tar holds the cut's audio: bounds are the cut's own
            item = _supervision_item(sup, f"{path}:{n}", labels)
            yield replace(item, data=data, suffix=suffix)


@register("lhotse")
def read_lhotse(path: Path) -> Iterator[SourceItem]:
    if path.is_dir() and any(path.glob("cuts.*.jsonl*")) and any(path.glob("recording.*.tar")):
        yield from _shar(path)
    else:
        yield from _manifests(path)
