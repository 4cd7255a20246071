-- The 20 albums with the most tracks in the table, beside the track count the album declares.
SELECT
    album_id,
    album_name,
    artist_name,
    album_type,
    COUNT(*) AS tracks,
    MAX(total_tracks) AS total_tracks
FROM spotify_tracks
GROUP BY album_id, album_name, artist_name, album_type
ORDER BY tracks DESC, album_id
LIMIT 20
