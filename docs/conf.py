"""Sphinx configuration of voxlake's manual (MyST Markdown, furo, sphinx-argparse).

Built strictly by `make docs-build`: every warning is an error, and MyST reports each link
to a page, heading or file that does not exist. The reference pages are generated from the
code when the build starts (`_ext/voxlake_docs.py`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "voxlake"
author = "the voxlake developers"
copyright = "voxlake developers"
extensions = ["myst_parser", "sphinxarg.ext", "voxlake_docs"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "screenshots.py"]
html_theme = "furo"
html_title = "voxlake"
html_static_path = ["_static"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
nitpicky = True
sphinxarg_full_subcommand_name = True  # headings read `voxlake sql`, not `sql`
