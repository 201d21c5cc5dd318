-- One row per voice with its measurements from every stage (DNSMOS null when switched off).
-- Example: select voice_id, speaker, duration_s, local_snr_db from voice_overview where duration_s between 1 and 20
create or replace view voice_overview as
select
    v.voice_id, v.batch, v.speaker, v.source, v.file_name, v.sample_rate, v.channels,
    v.duration_s, v.rms_dbfs,
    d.out_rms_dbfs, d.local_snr_db, d.floor_depth_db, d.passthrough, d.out_clip_fraction,
    d.dnsmos_ovrl_in, d.dnsmos_sig_out, d.dnsmos_bak_out, d.dnsmos_ovrl_out,
    m.n_frames as mel_frames,
    e.voice_id is not null as embedded,
    t.text, t.language, t.gender, t.recording_id, t.segment_start_s, t.segment_end_s,
    v.labels
from voices v
left join transcripts t using (voice_id)
left join denoise_metrics d using (voice_id)
left join voice_mel_stats m using (voice_id)
left join embeddings e using (voice_id)
order by v.voice_id;
