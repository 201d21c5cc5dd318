"""What the demo prints after its run: counts, rejections, denoising gains, DNSMOS, mel
statistics, the index and a sample search. Every figure is read back from the lake."""

from __future__ import annotations

from typing import Any

from voxlake.demo.scoring import gain_report, mean_gain, score_pairs
from voxlake.embed import index_search, index_table
from voxlake.lake import catalog
from voxlake.lake.store import Lake
from voxlake.lake.voice_ids import short


def _q(lake: Lake, sql: str) -> list[tuple[Any, ...]]:
    return catalog.query(lake, sql)[1]


def summary_lines(lake: Lake) -> list[str]:
    lines = [f"voices ingested: {_q(lake, 'select count(*) from voices')[0][0]}"]
    rejected = _q(lake, "select file_name, reason, detail from rejected order by file_name")
    lines.append(f"rejected: {len(rejected)}")
    lines += [f"  {name}: {reason} ({detail})" for name, reason, detail in rejected]
    scores = score_pairs(lake)
    lines.append(
        f"SI-SDR gain on {len(scores)} noisy/clean pairs: mean {mean_gain(scores):+.2f} dB"
    )
    lines += gain_report(scores)
    mos = _q(
        lake,
        "select avg(dnsmos_ovrl_in), avg(dnsmos_ovrl_out), avg(dnsmos_bak_in), "
        "avg(dnsmos_bak_out), count(dnsmos_ovrl_out), count(*), "
        "1.96 * stddev_samp(dnsmos_ovrl_out) / sqrt(count(dnsmos_ovrl_out)) "
        "from denoise_metrics",
    )[0]
    if mos[0] is not None:
        ci = f" ±{mos[6]:.2f}" if mos[6] is not None else ""
        lines.append(
            f"DNSMOS P.835 mean: OVRL {mos[0]:.2f} -> {mos[1]:.2f}{ci} (95 % CI), "
            f"BAK {mos[2]:.2f} -> {mos[3]:.2f}; {mos[4]} of {mos[5]} voices scored"
        )
    stats = _q(lake, "select count(*), min(n_frames), min(n_voices) from dataset_mel_stats")[0]
    lines.append(
        f"dataset mel stats: mean/std shape ({stats[0]},) over {stats[1]} frames "
        f"of {stats[2]} voices"
    )
    lines.append(f"index rows: {index_table.count(lake)}")
    top1, n_queries = index_search.speaker_top1(lake)
    if n_queries:
        lines.append(
            f"top-1 speaker retrieval: {top1:.2f} ({n_queries} voices whose speaker has another)"
        )
    first = _q(lake, "select voice_id, speaker from voices order by source_path limit 1")
    if first:
        vid, spk = first[0]
        hits = index_search.search(lake, index_search.vector_of(lake, vid), 5, exclude=vid)
        lines.append(f"voices most like {short(vid)} ({spk}):")
        lines += [f"  {short(h.voice_id)}  {h.score:.3f}  {h.speaker}" for h in hits]
    return lines
