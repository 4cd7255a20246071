-- Audio features: explicit and clean tracks: Mean audio features of explicit and clean tracks that have features.
SELECT
    explicit,
    COUNT(*) AS tracks,
    COUNT(danceability) AS with_features,
    AVG(danceability) AS danceability,
    AVG(energy) AS energy,
    AVG(speechiness) AS speechiness,
    AVG(acousticness) AS acousticness,
    AVG(instrumentalness) AS instrumentalness,
    AVG(liveness) AS liveness,
    AVG(valence) AS valence,
    AVG(tempo) AS tempo_bpm,
    AVG(loudness) AS loudness_db
FROM spotify_tracks
WHERE explicit IS NOT NULL
GROUP BY explicit
ORDER BY explicit
