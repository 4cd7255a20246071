-- Average track popularity: The mean popularity (0-100) of the tracks.
SELECT
    AVG(track_popularity) AS average_track_popularity
FROM spotify_tracks
