"""Fingerprints, made by one mechanism from the code and the configuration.

- `code_version(*objects)`: BLAKE3 over the source of the functions, classes and modules
  that compute a stage's output. The source is normalised first (tokens only: comments,
  docstrings, blank lines and indentation widths do not count), so a reformat or a new
  comment keeps the version, and any change to what runs gives a new one. Nobody keeps
  version strings by hand.
- `fingerprint(params, models, code)`: BLAKE3 of the canonical JSON of a stage's
  parameters, the SHA-256 of each model file it loads, and its code version. It is stored
  on every row the stage writes; things built under different fingerprints are never
  mixed.
"""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize
from functools import cache
from types import ModuleType
from typing import Any

import blake3

from voxlake.lake.hashing import hash_json

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER}
_BLOCK = {tokenize.INDENT: "{", tokenize.DEDENT: "}"}  # nesting counts, its width not


def _docstring_starts(tree: ast.AST) -> set[tuple[int, int]]:
    """(line, column) where each module, class and function docstring begins."""
    starts = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and ast.get_docstring(node, clean=False):
            doc = node.body[0]
            starts.add((doc.lineno, doc.col_offset))
    return starts


def normalised_source(source: str) -> str:
    """The token strings of `source`, without comments, docstrings and layout.

    Logical lines and block nesting are kept; physical line breaks inside brackets and
    indentation widths are not. Tokens are joined
    with no separator: Python 3.12 splits f-strings into several tokens where 3.11 gives
    one, and both join to the same text.
    """
    source = textwrap.dedent(source)
    docs = _docstring_starts(ast.parse(source))
    kept = []
    line_start = True
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NEWLINE:  # the end of a logical line
            line_start = True
        if tok.type in _SKIPPED or (tok.type == tokenize.STRING and tok.start in docs):
            continue
        if tok.type in _BLOCK:
            kept.append(_BLOCK[tok.type])
            continue
        kept.append(("\n" if line_start else "") + tok.string)
        line_start = False
    return "".join(kept)


def _name(obj: Any) -> str:
    if isinstance(obj, ModuleType):
        return obj.__name__
    return f"{obj.__module__}.{obj.__qualname__}"


@cache
def code_version(*objects: Any) -> str:
    """A short version of the code that makes a stage's output (12 hex characters)."""
    h = blake3.blake3()
    for obj in sorted(objects, key=_name):
        h.update(f"{_name(obj)}\0{normalised_source(inspect.getsource(obj))}\0".encode())
    return h.hexdigest()[:12]


def fingerprint(params: dict[str, Any], models: dict[str, str], code: str) -> str:
    """Config fingerprint: parameters + model file SHA-256s + code version (16 hex)."""
    return hash_json({"params": params, "models": models, "code": code})[:16]
