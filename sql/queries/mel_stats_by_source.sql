-- Mel statistics per source label and bin, from the exact per-voice sums. The sums are exact
-- (DuckDB sums decimals exactly); mean and std are then taken in double precision.
select
    coalesce(source, '(none)') as source,
    bin,
    count(*) as voices,
    sum(n_frames) as frames,
    sum(sum_q)::double / sum(n_frames) / 4294967296.0 as mean,
    sqrt(greatest(
        sum(sum_square_q)::double / sum(n_frames) / 18446744073709551616.0
        - pow(sum(sum_q)::double / sum(n_frames) / 4294967296.0, 2), 0)) as std
from voice_mel_bins
group by all
order by source, bin;
