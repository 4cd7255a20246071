-- Track popularity against artist popularity: Per artist: how the tracks' average popularity follows the artist's popularity.
SELECT
    artist_id,
    AVG(artist_popularity) AS average_artist_popularity,
    AVG(track_popularity) AS average_track_popularity
FROM spotify_tracks
WHERE artist_id IS NOT NULL
GROUP BY artist_id
ORDER BY artist_id
LIMIT 2000
