"""One layer for a lake's objects on a store: a local folder or an S3 bucket prefix.

Built on obstore (the Rust `object_store` crate): one API for a local folder and S3, with
the two conditional writes a lake without rename needs (create-if-absent and
replace-if-unchanged, S3's If-None-Match / If-Match), which pyarrow.fs lacks and fsspec's
S3 layer offers only in part. The lake's tables on the store are delta-rs' (`store_tables`),
through the same Rust `object_store` crate.

An S3 URI takes its endpoint, region and credentials from the environment, as every AWS
tool does (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ALLOW_HTTP for a plain-HTTP endpoint), or from `StoreConfig` fields.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from obstore.store import LocalStore, S3Store

from voxlake.lake.tables import Tables

REMOTE_SCHEMES = ("s3://",)
ObjectStore = LocalStore | S3Store


class StoreAccessError(RuntimeError):
    """The store cannot be reached or refuses these credentials (said at start)."""


class Conflict(RuntimeError):
    """A conditional write lost: the object exists, or changed since it was read."""


def is_remote(uri: str | Path) -> bool:
    return str(uri).startswith(REMOTE_SCHEMES)


@dataclass(frozen=True)
class StoreConfig:
    """Where a store is and how to reach it; an empty field falls back to the environment."""

    uri: str
    endpoint: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    @property
    def bucket_and_prefix(self) -> tuple[str, str]:
        rest = self.uri.split("://", 1)[1]
        bucket, _, prefix = rest.partition("/")
        return bucket, prefix.strip("/")

    def endpoint_or_env(self) -> str:
        return self.endpoint or os.environ.get("AWS_ENDPOINT_URL", "")

    def overrides(self) -> dict[str, str]:
        """The fields set here (over the environment's), in obstore's S3 config keys."""
        fields = {
            "endpoint": self.endpoint_or_env(),
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }
        return {k: v for k, v in fields.items() if v}


def open_store(config: StoreConfig | str | Path) -> ObjectStore:
    """The store behind a URI or folder (a folder is created if missing)."""
    cfg = config if isinstance(config, StoreConfig) else StoreConfig(str(config))
    if not is_remote(cfg.uri):
        return LocalStore(Path(cfg.uri).absolute(), mkdir=True)
    bucket, prefix = cfg.bucket_and_prefix
    allow_http = cfg.endpoint_or_env().startswith("http://")
    return S3Store(
        bucket,
        prefix=prefix or None,
        config=cfg.overrides(),  # type: ignore[arg-type]
        client_options={"allow_http": allow_http, "timeout": "30s", "connect_timeout": "5s"},
        retry_config={
            "max_retries": 3,
            "retry_timeout": timedelta(seconds=30),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=2),
                "base": 2.0,
            },
        },
    )


def delta_options(config: StoreConfig | str) -> dict[str, str]:
    """delta-rs' storage options for the store: its endpoint, region and credentials, and
    conditional PUTs by ETag, so that writers on several machines cannot overwrite one
    another's commit."""
    cfg = config if isinstance(config, StoreConfig) else StoreConfig(config)
    endpoint = cfg.endpoint_or_env()
    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": cfg.region
        or os.environ.get("AWS_REGION", "")
        or os.environ.get("AWS_DEFAULT_REGION", ""),
        "AWS_ACCESS_KEY_ID": cfg.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cfg.secret_access_key,
        "AWS_ALLOW_HTTP": "true" if endpoint.startswith("http://") else "",
        "aws_conditional_put": "etag",
    }
    return {k: v for k, v in options.items() if v}


def store_tables(config: StoreConfig | str) -> Tables:
    """The Delta tables of a lake on the store, read and written in place."""
    cfg = config if isinstance(config, StoreConfig) else StoreConfig(config)
    return Tables(cfg.uri.rstrip("/") + "/tables", delta_options(cfg))


def check_access(store: ObjectStore, uri: str) -> None:
    """List one object: wrong credentials or an unknown bucket fail here, in one line,
    before any work starts."""
    try:
        next(iter(obstore.list(store, chunk_size=1)), None)
    except (PermissionDeniedError, UnauthenticatedError) as e:
        raise StoreAccessError(f"{uri}: the store refused these credentials ({_first(e)})") from e
    except Exception as e:  # a missing bucket lists as a 404; else connection, DNS, TLS ...
        # The HTTP status as the store reported it (not any 3 digits: the text also holds
        # the request's duration in ms and the endpoint's port).
        status = re.search(r"status code: (\d{3})", str(e))
        code = status.group(1) if status else ""
        if isinstance(e, FileNotFoundError) or code == "404" or "NoSuchBucket" in str(e):
            raise StoreAccessError(f"{uri}: no such bucket ({_first(e)})") from e
        if code in ("401", "403"):
            raise StoreAccessError(f"{uri}: the store refused these credentials") from e
        raise StoreAccessError(f"{uri}: the store cannot be reached ({_first(e)})") from e


def _first(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__


def read_json(store: ObjectStore, key: str) -> tuple[Any, str] | None:
    """(value, e_tag) of a JSON object, or None if absent."""
    try:
        got = obstore.get(store, key)
    except FileNotFoundError:
        return None
    etag = got.meta["e_tag"] or ""
    return json.loads(bytes(got.bytes())), etag


def _encode(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True) + "\n").encode()


def create_json(store: ObjectStore, key: str, value: Any) -> str:
    """Write `key` only if it does not exist; its new e_tag, or Conflict."""
    try:
        return obstore.put(store, key, _encode(value), mode="create")["e_tag"] or ""
    except AlreadyExistsError as e:
        raise Conflict(f"{key} exists") from e


def replace_json(store: ObjectStore, key: str, value: Any, e_tag: str) -> str:
    """Replace `key` only if it still has `e_tag`; its new e_tag, or Conflict."""
    try:
        return obstore.put(store, key, _encode(value), mode={"e_tag": e_tag})["e_tag"] or ""
    except (PreconditionError, FileNotFoundError) as e:
        raise Conflict(f"{key} changed since it was read") from e
