"""The catalog described from the code, for the SQL reference: every lake table and view.

A table's columns come from its declared Arrow schema and its description and example from
`voxlake.descriptions`. A view describes itself in its `sql/views/*.sql` file: the leading
`--` comment is its description, and a comment line `-- Example: SQL` is its example query.
Column types are what DuckDB reports for the view over an empty catalog, and every example
is planned (EXPLAIN) there, so a reference can name no column that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from voxlake import descriptions
from voxlake.lake import catalog
from voxlake.lake.schemas import TABLES

EXAMPLE = "example:"


class UndescribedRelation(ValueError):
    """A table or view with no description or example, or an example that does not plan."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # "table" (a lake table) or "view" (sql/views)
    description: str
    example: str
    columns: tuple[Column, ...]


def view_comment(sql: str) -> tuple[str, str]:
    """A view file's leading comment, split into its description and its example query."""
    text, example = [], ""
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        if body.lower().startswith(EXAMPLE):
            example = body[len(EXAMPLE) :].strip()
        else:
            text.append(body)
    return " ".join(t for t in text if t), example


def describe() -> list[Relation]:
    """Every table, then every view, in the catalog's order; UndescribedRelation names the
    first one that is missing a description or example, or whose example does not plan."""
    with duckdb.connect(config=catalog.NO_EXTENSION_DOWNLOADS) as con:
        docs: list[tuple[str, str, str, str]] = []
        for name, schema in TABLES.items():
            catalog.create_empty(con, name, schema)
            doc = descriptions.TABLES.get(name)
            if doc is None:
                raise UndescribedRelation(f"table {name}: no entry in voxlake/descriptions.py")
            docs.append((name, "table", doc.description, doc.example))
        for path in catalog.view_files():
            sql = path.read_text()
            con.execute(sql)
            name = path.name.removesuffix(".sql")
            text, example = view_comment(sql)
            if not text or not example:
                missing = "description" if not text else "`-- Example:` query"
                raise UndescribedRelation(f"view {name} (sql/views/{path.name}): no {missing}")
            docs.append((name, "view", text, example))
        relations = []
        for name, kind, text, example in docs:
            try:
                con.execute(f"explain {example}")
            except duckdb.Error as e:
                first = str(e).splitlines()[0]
                raise UndescribedRelation(f"{kind} {name}: its example fails: {first}") from None
            cols = con.execute(f'describe "{name}"').fetchall()
            columns = tuple(Column(str(c[0]), str(c[1])) for c in cols)
            relations.append(Relation(name, kind, text, example, columns))
    return relations
