-- Top 20 artists by followers, with how many of their tracks the table holds.
SELECT
    artist_id,
    artist_name,
    MAX(followers) AS followers,
    MAX(artist_popularity) AS artist_popularity,
    COUNT(*) AS tracks
FROM spotify_tracks
GROUP BY artist_id, artist_name
ORDER BY followers DESC, artist_name
LIMIT 20
