-- Track popularity against duration, in 30-second buckets holding at least 5 tracks.
SELECT
    CAST(FLOOR(duration_sec / 30) * 30 AS integer) AS duration_bucket_sec,
    COUNT(*) AS tracks,
    ROUND(AVG(track_popularity), 2) AS avg_track_popularity,
    MIN(track_popularity) AS min_track_popularity,
    MAX(track_popularity) AS max_track_popularity
FROM spotify_tracks
WHERE duration_sec IS NOT NULL AND track_popularity IS NOT NULL
GROUP BY CAST(FLOOR(duration_sec / 30) * 30 AS integer)
HAVING COUNT(*) >= 5
ORDER BY duration_bucket_sec
