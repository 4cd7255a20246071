-- Releases per year: Albums and tracks released per year.
SELECT
    release_year,
    COUNT(DISTINCT album_id) AS albums,
    COUNT(*) AS tracks
FROM spotify_tracks
WHERE release_year IS NOT NULL
GROUP BY release_year
ORDER BY release_year
