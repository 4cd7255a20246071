-- Top artists by followers: The 20 artists with the most followers.
SELECT
    artist_name,
    MAX(followers) AS followers
FROM spotify_tracks
WHERE artist_name IS NOT NULL
GROUP BY artist_name
ORDER BY followers DESC, artist_name
LIMIT 20
