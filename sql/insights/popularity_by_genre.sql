-- Average popularity per genre (every genre of a track's primary artist), for genres with at
-- least 10 tracks from at least 2 artists, so one prolific artist cannot carry a genre.
SELECT
    genre,
    COUNT(*) AS tracks,
    COUNT(DISTINCT artist_id) AS artists,
    ROUND(AVG(track_popularity), 2) AS avg_track_popularity,
    ROUND(AVG(artist_popularity), 2) AS avg_artist_popularity
FROM spotify_tracks
CROSS JOIN UNNEST(genres) AS g (genre)
GROUP BY genre
HAVING COUNT(*) >= 10 AND COUNT(DISTINCT artist_id) >= 2
ORDER BY avg_track_popularity DESC, genre
LIMIT 25
