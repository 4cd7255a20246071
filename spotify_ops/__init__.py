"""What operators run: local pipeline, sample data, post-deploy verification."""
