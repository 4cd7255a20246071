-- Tracks: How many tracks the published table holds.
SELECT
    COUNT(track_id) AS tracks
FROM spotify_tracks
