"""The object-store wing: everything that speaks to a bucket lives here.

- `client`: the store behind a URI (obstore), its configuration, conditional writes, and
  delta-rs' options for the lake's tables on it;
- `mirror`: a step's working copy of the files it reads and writes (not the tables);
- `remote`: the sessions of a step on a store lake (what each kind of step pulls, leases);
- `lease`: a lease on the store, across machines.

The local lake (`voxlake.lake.store.Lake`, `voxlake.lake.tables`) imports none of it.
"""

from voxlake.lake.objectstore.client import (
    REMOTE_SCHEMES,
    Conflict,
    ObjectStore,
    StoreAccessError,
    StoreConfig,
    check_access,
    create_json,
    delta_options,
    is_remote,
    open_store,
    read_json,
    replace_json,
    store_tables,
)

__all__ = [
    "REMOTE_SCHEMES",
    "Conflict",
    "ObjectStore",
    "StoreAccessError",
    "StoreConfig",
    "check_access",
    "create_json",
    "delta_options",
    "is_remote",
    "open_store",
    "read_json",
    "replace_json",
    "store_tables",
]
