-- Mel statistics per speaker label, source label and batch, per bin, from exact sums kept
-- up to date by the dataset statistics step: `slice_mel_sums` per speaker and source,
-- `batch_mel_stats` per batch (DuckDB adds the decimals exactly; mean and std are then
-- taken in double precision). One row per (slice, label, bin); filter with e.g.
-- `where slice = 'speaker'`. The `voice_mel_bins` view slices by any other column.
with per_label as (
    select slice, label, bin, sum(voices) as voices, sum(frames) as frames,
        sum(sum_q)::double as s1, sum(sum_square_q)::double as s2
    from slice_mel_sums
    where not included
    group by slice, label, bin
    having sum(voices) > 0
    union all
    select 'batch', batch, bin, n_voices, n_frames, s1::double, s2::double
    from (
        select batch, n_voices, n_frames, generate_subscripts(sum, 1) - 1 as bin,
            unnest(sum) as s1, unnest(sum_square) as s2
        from batch_mel_stats
        where n_voices > 0
    )
)
select
    slice, label, bin, voices, frames,
    s1 / frames / 4294967296.0 as mean,
    sqrt(greatest(s2 / frames / 18446744073709551616.0
                  - pow(s1 / frames / 4294967296.0, 2), 0)) as std
from per_label
order by slice, label, bin;
