-- The dataset's DNSMOS (after denoising) from the voices that were scored, with a 95 %
-- confidence interval: what `--dnsmos sample` reports for a lake too large to score whole.
select
    count(*) as voices,
    count(dnsmos_ovrl_out) as scored,
    avg(dnsmos_ovrl_out) as ovrl_mean,
    1.96 * stddev_samp(dnsmos_ovrl_out) / sqrt(count(dnsmos_ovrl_out)) as ovrl_ci95,
    avg(dnsmos_sig_out) as sig_mean,
    avg(dnsmos_bak_out) as bak_mean,
    1.96 * stddev_samp(dnsmos_bak_out) / sqrt(count(dnsmos_bak_out)) as bak_ci95
from voice_overview;
