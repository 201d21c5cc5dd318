"""The lake: its layout and table I/O, schemas, hashing, fingerprints and lineage."""

from voxlake.lake.fingerprint import code_version, fingerprint
from voxlake.lake.hashing import derive_seed, hash_array, hash_file, stage_hash
from voxlake.lake.lineage import StageResult, now_iso
from voxlake.lake.schemas import TABLES
from voxlake.lake.store import Lake, default_root

__all__ = [
    "TABLES",
    "Lake",
    "StageResult",
    "code_version",
    "default_root",
    "derive_seed",
    "fingerprint",
    "hash_array",
    "hash_file",
    "now_iso",
    "stage_hash",
]
