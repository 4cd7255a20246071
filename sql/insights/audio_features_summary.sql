-- Mean audio features of explicit and clean tracks, over the tracks that have features.
SELECT
    explicit,
    COUNT(*) AS tracks,
    COUNT(danceability) AS tracks_with_features,
    ROUND(AVG(danceability), 3) AS danceability,
    ROUND(AVG(energy), 3) AS energy,
    ROUND(AVG(speechiness), 3) AS speechiness,
    ROUND(AVG(acousticness), 3) AS acousticness,
    ROUND(AVG(instrumentalness), 3) AS instrumentalness,
    ROUND(AVG(liveness), 3) AS liveness,
    ROUND(AVG(valence), 3) AS valence,
    ROUND(AVG(tempo), 1) AS tempo_bpm,
    ROUND(AVG(loudness), 2) AS loudness_db
FROM spotify_tracks
WHERE explicit IS NOT NULL
GROUP BY explicit
ORDER BY explicit
