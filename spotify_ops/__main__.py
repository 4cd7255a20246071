from spotify_ops.cli import app

app()
