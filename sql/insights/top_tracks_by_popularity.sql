-- Top 20 tracks by popularity; ties broken by id so the answer is stable.
SELECT
    track_id,
    track_name,
    artist_name,
    album_name,
    release_year,
    track_popularity
FROM spotify_tracks
WHERE track_popularity IS NOT NULL
ORDER BY track_popularity DESC, track_id
LIMIT 20
