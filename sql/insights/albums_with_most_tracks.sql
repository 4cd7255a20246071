-- Albums with the most tracks: The 20 albums with the most tracks in the table, beside the count they declare.
SELECT
    album_name,
    artist_name,
    album_id,
    COUNT(*) AS tracks,
    MAX(total_tracks) AS declared_tracks
FROM spotify_tracks
GROUP BY album_name, artist_name, album_id
ORDER BY tracks DESC, album_name, artist_name, album_id
LIMIT 20
