-- The latest content hash of every stage, per batch ('' for the dataset-wide assets).
-- Example: select batch, asset, stage_hash from stage_hashes where batch <> '' order by batch
create or replace view stage_hashes as
select batch, asset, stage_hash, fingerprint, code_version, rows, materialized_at
from lineage
qualify row_number() over (partition by batch, asset order by materialized_at desc) = 1
order by batch, asset;
