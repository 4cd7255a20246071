-- Tracks: How many tracks the published table holds.
SELECT
    COUNT(*) AS tracks
FROM spotify_tracks
