-- Average popularity per record label, for labels with at least 3 albums in the table.
SELECT
    label,
    COUNT(DISTINCT album_id) AS albums,
    COUNT(*) AS tracks,
    ROUND(AVG(track_popularity), 2) AS avg_track_popularity,
    ROUND(AVG(album_popularity), 2) AS avg_album_popularity
FROM spotify_tracks
WHERE label IS NOT NULL AND label <> ''
GROUP BY label
HAVING COUNT(DISTINCT album_id) >= 3
ORDER BY avg_track_popularity DESC, label
LIMIT 25
