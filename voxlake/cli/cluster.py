"""`voxlake cluster`: the files of a cluster deployment, and a lake on a store moved to or
from a local folder.

- `init HOME`: the Dagster home every machine shares (dagster.yaml on Postgres
  with the Celery run launcher, workspace.yaml, the workers' Celery settings);
- `pull DEST --lake s3://...`: a local copy of the store lake's committed state, on which
  `doctor`, `verify --export-manifest` and the rest run;
- `publish --lake FOLDER --to s3://...`: a local lake onto a store, every batch committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxlake.cli.args import Subparsers, open_lake
from voxlake.lake.objectstore import StoreAccessError, StoreConfig, is_remote
from voxlake.lake.objectstore.remote import StoreLake


def cmd_init(args: argparse.Namespace) -> int:
    import shlex

    from voxlake.orchestration.cluster import BROKER_ENV, worker_command, write_cluster_home
    from voxlake.orchestration.runner import POSTGRES_ENV

    home = write_cluster_home(Path(args.home).absolute())
    print(f"cluster home: {home}")
    print(f"  every machine: DAGSTER_HOME={home} {POSTGRES_ENV}=postgresql://...")
    print(f"                 {BROKER_ENV}=redis://... VOXLAKE_HOME=s3://bucket/prefix")
    print(f"  daemon:  dagster-daemon run -w {home / 'workspace.yaml'}")
    print(f"  UI:      dagster-webserver -w {home / 'workspace.yaml'}")
    celery = shlex.join(["celery", *worker_command("worker1")[3:]])  # less `python -m`
    print(f"  worker:  PYTHONPATH={home / 'celery'} {celery}")
    steps = shlex.join(["celery", *worker_command("steps1", steps=True)[3:]])
    print(f"  exports: PYTHONPATH={home / 'celery'} {steps}")
    return 0


def _store(uri: str) -> StoreLake:
    if not is_remote(uri):
        raise SystemExit(f"voxlake cluster: {uri} is not an object-store URI (s3://...)")
    return StoreLake.of(StoreConfig(uri))


def cmd_pull(args: argparse.Namespace) -> int:
    try:
        lake = _store(args.lake).snapshot(Path(args.dest).absolute(), audio=args.audio)
    except StoreAccessError as e:
        print(f"voxlake cluster pull: {e}", file=sys.stderr)
        return 1
    print(f"pulled {args.lake} -> {lake.root} ({len(lake.table_batches('voices'))} batches)")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    lake = open_lake(args)
    try:
        sent = _store(args.to).publish(lake)
    except StoreAccessError as e:
        print(f"voxlake cluster publish: {e}", file=sys.stderr)
        return 1
    print(f"published {lake.root} -> {args.to} ({sent} objects sent)")
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("cluster", help="cluster mode: its files; a store lake pulled or published")
    verbs = p.add_subparsers(dest="verb", required=True)
    init = verbs.add_parser("init", help="write the Dagster home every machine shares")
    init.add_argument("home", help="the folder to write the Dagster home into")
    init.set_defaults(fn=cmd_init)
    pull = verbs.add_parser("pull", help="a local copy of a store lake's committed state")
    pull.add_argument("dest", help="the local folder to copy the lake into")
    pull.add_argument("--lake", required=True, help="s3://bucket/prefix")
    pull.add_argument("--audio", action="store_true", help="also the audio and mel features")
    pull.set_defaults(fn=cmd_pull)
    pub = verbs.add_parser("publish", help="a local lake onto a store, every batch committed")
    pub.add_argument("--lake", help="the local lake (default: $VOXLAKE_HOME or ./.voxlake)")
    pub.add_argument("--to", required=True, help="s3://bucket/prefix")
    pub.set_defaults(fn=cmd_publish, command="cluster publish")
