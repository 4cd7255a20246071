-- Popularity against duration: Each track's popularity against its length (up to 2,000 tracks).
SELECT
    duration_sec,
    track_popularity
FROM spotify_tracks
WHERE duration_sec IS NOT NULL AND track_popularity IS NOT NULL
ORDER BY album_id, duration_sec, track_popularity
LIMIT 2000
