-- Mel statistics per speaker label, source label and batch, per bin, from the exact
-- per-voice sums (DuckDB adds the decimals exactly; mean and std are then taken in double
-- precision). One row per (slice, label, bin); filter with e.g. `where slice = 'speaker'`.
with per_label as (
    select
        case
            when grouping(speaker) = 0 then 'speaker'
            when grouping(source) = 0 then 'source'
            else 'batch'
        end as slice,
        coalesce(speaker, source, batch, '(none)') as label,
        bin,
        count(*) as voices,
        sum(n_frames) as frames,
        sum(sum_q)::double as s1,
        sum(sum_square_q)::double as s2
    from voice_mel_bins
    group by grouping sets ((speaker, bin), (source, bin), (batch, bin))
)
select
    slice, label, bin, voices, frames,
    s1 / frames / 4294967296.0 as mean,
    sqrt(greatest(s2 / frames / 18446744073709551616.0
                  - pow(s1 / frames / 4294967296.0, 2), 0)) as std
from per_label
order by slice, label, bin;
