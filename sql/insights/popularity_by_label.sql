-- Average popularity by label: Average track popularity per record label, for labels with at least 3 albums.
SELECT
    label,
    AVG(track_popularity) AS average_track_popularity
FROM spotify_tracks
WHERE label IS NOT NULL
GROUP BY label
HAVING COUNT(DISTINCT album_id) >= 3
ORDER BY average_track_popularity DESC, label
LIMIT 25
