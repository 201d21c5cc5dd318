"""The demo: a generated corpus with clean references, and what the pipeline made of it."""

from voxlake.demo.corpus import generate
from voxlake.demo.summary import summary_lines

__all__ = ["generate", "summary_lines"]
