-- Track popularity against album popularity: Per album: how the tracks' average popularity follows the album's popularity.
SELECT
    album_id,
    AVG(album_popularity) AS average_album_popularity,
    AVG(track_popularity) AS average_track_popularity
FROM spotify_tracks
WHERE album_id IS NOT NULL
GROUP BY album_id
ORDER BY album_id
LIMIT 2000
