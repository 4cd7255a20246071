-- Pearson correlation of track popularity with its artist's and its album's popularity.
SELECT
    COUNT(*) AS tracks,
    CORR(CAST(track_popularity AS double), CAST(artist_popularity AS double))
        AS track_vs_artist_popularity,
    CORR(CAST(track_popularity AS double), CAST(album_popularity AS double))
        AS track_vs_album_popularity,
    CORR(CAST(album_popularity AS double), CAST(artist_popularity AS double))
        AS album_vs_artist_popularity
FROM spotify_tracks
WHERE track_popularity IS NOT NULL
    AND artist_popularity IS NOT NULL
    AND album_popularity IS NOT NULL
