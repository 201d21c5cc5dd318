-- One row per ingestion batch: what came in and what became of it (inputs are audio files;
-- label_problems counts the label sidecars with a problem, one row per sidecar and reason).
-- status: complete (every stage done), failed (its latest run failed: failed_step and
-- error say where and why; `voxlake run --batches B` retries it, `voxlake drop-batch B`
-- removes it) or incomplete (started, not finished: a killed run; `voxlake run` finishes it).
-- Example: select batch, status, inputs, voices, rejected from batch_summary order by batch
create or replace view batch_summary as
with files as (
    select batch, 'voice' as outcome from voices
    union all select batch, 'rejected' from rejected where stage = 'raw_voices'
    union all select batch, 'duplicate' from duplicates
),
counts as (
    select
        batch,
        count(*) as inputs,
        count(*) filter (where outcome = 'voice') as voices,
        count(*) filter (where outcome = 'rejected') as rejected,
        count(*) filter (where outcome = 'duplicate') as duplicates
    from files
    group by batch
),
stages as (
    select
        batch,
        count(distinct asset) filter (where asset in ('voice_mel_stats', 'voice_embeddings'))
            = 2 as done,
        max(cast(materialized_at as timestamptz)) as last_done
    from lineage
    where batch <> ''
    group by batch
),
failure as (
    select batch, step, error, cast(failed_at as timestamptz) as failed_at
    from batch_failures
    qualify row_number() over (partition by batch order by failed_at desc) = 1
),
batches as (
    select batch from counts union select batch from failure union select batch from stages
)
select
    b.batch,
    case
        when f.failed_at is not null and (s.last_done is null or f.failed_at >= s.last_done)
            then 'failed'
        when s.done then 'complete'
        else 'incomplete'
    end as status,
    coalesce(c.inputs, 0) as inputs,
    coalesce(c.voices, 0) as voices,
    coalesce(c.rejected, 0) as rejected,
    coalesce(c.duplicates, 0) as duplicates,
    (select count(*) from rejected r where r.batch = b.batch and r.stage = 'sidecar')
        as label_problems,
    case when f.failed_at >= coalesce(s.last_done, f.failed_at) then f.step end as failed_step,
    case when f.failed_at >= coalesce(s.last_done, f.failed_at) then f.error end as error
from batches b
left join counts c using (batch)
left join stages s using (batch)
left join failure f using (batch)
order by b.batch;
