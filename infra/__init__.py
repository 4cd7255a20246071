"""The Pulumi program that deploys the Spotify pipeline."""
