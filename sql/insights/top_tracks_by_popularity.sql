-- Top tracks by popularity: The 20 most popular tracks, with artist, album and release year.
SELECT
    track_name,
    artist_name,
    album_name,
    release_year,
    MAX(track_popularity) AS popularity
FROM spotify_tracks
GROUP BY track_name, artist_name, album_name, release_year
ORDER BY popularity DESC, track_name, artist_name, album_name, release_year
LIMIT 20
