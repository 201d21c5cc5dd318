"""Export the curated corpus as the manifests training frameworks read: lhotse, HF, NeMo."""

from voxlake.export.selection import EmptySelection, Selection, select
from voxlake.export.writers import FORMATS, export

__all__ = ["FORMATS", "EmptySelection", "Selection", "export", "select"]
