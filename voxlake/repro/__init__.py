"""Reproducibility: recompute batches and compare BLAKE3 hashes; hash manifests."""

from voxlake.repro.checks import Check
from voxlake.repro.report import ReportLine, summarize
from voxlake.repro.verify import stored_checks, verify

__all__ = ["Check", "ReportLine", "stored_checks", "summarize", "verify"]
