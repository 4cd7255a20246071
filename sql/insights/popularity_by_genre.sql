-- Average popularity by genre: Average track popularity per primary genre, for genres with at least 10 tracks from at least 2 artists (so one prolific artist cannot carry a genre).
SELECT
    primary_genre,
    AVG(track_popularity) AS average_track_popularity
FROM spotify_tracks
WHERE primary_genre IS NOT NULL
GROUP BY primary_genre
HAVING COUNT(*) >= 10 AND COUNT(DISTINCT artist_id) >= 2
ORDER BY average_track_popularity DESC, primary_genre
LIMIT 25
