"""Benchmarks that print figures (not tests): run with ``python -m benchmarks.job_benchmark``."""
