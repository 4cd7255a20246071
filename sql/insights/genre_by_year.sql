-- Genre by year: Tracks per release year for the 8 genres with the most tracks.
WITH top_rows AS (
    SELECT primary_genre
    FROM spotify_tracks
    WHERE primary_genre IS NOT NULL AND release_year IS NOT NULL
    GROUP BY primary_genre
    ORDER BY COUNT(*) DESC, primary_genre
    LIMIT 8
)
SELECT
    primary_genre,
    release_year,
    COUNT(*) AS tracks
FROM spotify_tracks INNER JOIN top_rows USING (primary_genre)
WHERE primary_genre IS NOT NULL AND release_year IS NOT NULL
GROUP BY primary_genre, release_year
ORDER BY tracks DESC, primary_genre, release_year
