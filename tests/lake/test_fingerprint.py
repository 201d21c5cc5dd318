"""Code versions come from the code: layout, comments and docstrings do not count."""

import textwrap

from voxlake import pipeline
from voxlake.lake.fingerprint import code_version, normalised_source

PLAIN = """
def gain(x, db):
    return x * 10 ** (db / 20)
"""

RESTYLED = '''
def gain(x, db):  # a comment
    """Apply a gain in dB."""

    return x * 10 ** (
        db / 20
    )
'''

CHANGED = """
def gain(x, db):
    return x * 10 ** (db / 10)
"""


def test_layout_comments_and_docstrings_do_not_count() -> None:
    assert normalised_source(PLAIN) == normalised_source(RESTYLED)
    assert normalised_source(PLAIN) != normalised_source(CHANGED)
    indented = textwrap.indent(PLAIN, "    ")
    assert normalised_source(indented) == normalised_source(PLAIN)


def test_a_docstring_alone_is_not_code_but_a_string_in_code_is() -> None:
    a = 'def f():\n    """doc"""\n    return "x"\n'
    b = 'def f():\n    """other doc"""\n    return "x"\n'
    c = 'def f():\n    """doc"""\n    return "y"\n'
    assert normalised_source(a) == normalised_source(b) != normalised_source(c)


def test_stage_code_versions_are_distinct_and_stable() -> None:
    versions = [s.code_version for s in pipeline.BATCH_STAGES]
    assert len(set(versions)) == len(versions)
    assert all(len(v) == 12 for v in versions)
    assert code_version(pipeline.mel_voice) == code_version(pipeline.mel_voice)
    assert code_version(pipeline.mel_voice) != code_version(pipeline.embed_voice)


def test_block_nesting_counts() -> None:
    inside = "def f(a):\n    if a:\n        a += 1\n        a *= 2\n    return a\n"
    outside = "def f(a):\n    if a:\n        a += 1\n    a *= 2\n    return a\n"
    wider = "def f(a):\n  if a:\n    a += 1\n    a *= 2\n  return a\n"
    assert normalised_source(inside) != normalised_source(outside)
    assert normalised_source(inside) == normalised_source(wider)
