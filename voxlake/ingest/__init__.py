"""Ingest: the inbox scan and its sidecars, the raw stage, and forgetting voices."""

from voxlake.ingest.inbox import list_batches, read_manifest, scan_inbox
from voxlake.ingest.raw import ingest_batch

__all__ = ["ingest_batch", "list_batches", "read_manifest", "scan_inbox"]
