-- One row per ingestion batch: what came in and what became of it (inputs are audio files;
-- label_problems counts the label sidecars with a problem, one row per sidecar and reason).
create or replace view batch_summary as
with files as (
    select batch, 'voice' as outcome from voices
    union all select batch, 'rejected' from rejected where stage = 'raw_voices'
    union all select batch, 'duplicate' from duplicates
)
select
    batch,
    count(*) as inputs,
    count(*) filter (where outcome = 'voice') as voices,
    count(*) filter (where outcome = 'rejected') as rejected,
    count(*) filter (where outcome = 'duplicate') as duplicates,
    (select count(*) from rejected r where r.batch = files.batch and r.stage = 'sidecar')
        as label_problems
from files
group by batch
order by batch;
