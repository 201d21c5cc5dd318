-- Per speaker label: voices, hours, and the denoiser's view of their noise.
select
    coalesce(speaker, '(none)') as speaker,
    count(*) as voices,
    round(sum(duration_s) / 3600, 4) as hours,
    round(avg(local_snr_db), 2) as mean_local_snr_db
from voice_overview
group by all
order by voices desc, speaker;
