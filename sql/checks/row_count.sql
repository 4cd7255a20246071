-- Rows in the published table; must be > 0 and equal the last run summary's rows_written.
SELECT COUNT(*) AS row_count
FROM spotify_tracks
