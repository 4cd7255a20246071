-- Tracks per release year for the 8 most common primary genres.
WITH top_genres AS (
    SELECT primary_genre
    FROM spotify_tracks
    WHERE primary_genre IS NOT NULL
    GROUP BY primary_genre
    ORDER BY COUNT(*) DESC, primary_genre
    LIMIT 8
)
SELECT
    t.release_year,
    t.primary_genre AS genre,
    COUNT(*) AS tracks,
    ROUND(AVG(t.track_popularity), 2) AS avg_track_popularity
FROM spotify_tracks AS t
INNER JOIN top_genres AS g ON t.primary_genre = g.primary_genre
WHERE t.release_year IS NOT NULL
GROUP BY t.release_year, t.primary_genre
ORDER BY t.release_year, genre
