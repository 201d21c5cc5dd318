-- One row per voice and mel bin: the voice's exact Q31.32 sums with its labels, for slicing
-- dataset statistics by any column (see sql/queries/mel_stats_slices.sql).
-- Example: select speaker, bin, sum(sum_q) / sum(n_frames) / 2^32 as mean from voice_mel_bins group by all order by speaker, bin
create or replace view voice_mel_bins as
select
    m.voice_id, m.batch, v.speaker, v.source, m.fingerprint, m.n_frames,
    generate_subscripts(m.sum, 1) - 1 as bin,
    unnest(m.sum) as sum_q,
    unnest(m.sum_square) as sum_square_q
from voice_mel_stats m
join voices v using (voice_id);
