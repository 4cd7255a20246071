-- The primary key is never null and never repeated.
SELECT
    COUNT(*) - COUNT(track_id) AS null_keys,
    COUNT(track_id) - COUNT(DISTINCT track_id) AS duplicate_keys
FROM spotify_tracks
