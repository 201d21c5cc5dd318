-- One row per ingestion batch: what came in and what became of it.
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
    count(*) filter (where outcome = 'duplicate') as duplicates
from files
group by batch
order by batch;
