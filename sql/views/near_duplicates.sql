-- Pairs of voices whose speaker embeddings are nearly identical (cosine >= 0.95): the
-- same recording re-encoded, trimmed or re-uploaded with other bytes. Exact and O(N^2):
-- for large lakes use `voxlake duplicates --threshold T`, which asks the vector index.
-- Example: select voice_a, voice_b, cosine from near_duplicates limit 20
create or replace view near_duplicates as
select
    a.voice_id as voice_a,
    b.voice_id as voice_b,
    array_cosine_similarity(a.vector::float[256], b.vector::float[256]) as cosine
from embeddings a
join embeddings b on a.voice_id < b.voice_id
where array_cosine_similarity(a.vector::float[256], b.vector::float[256]) >= 0.95
order by cosine desc, voice_a, voice_b;
