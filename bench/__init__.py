"""Benchmarks against the real stack, each scenario beside its bare baseline in the same run.

`python -m bench` (or `make bench`) starts a private Postgres and Redis, the web
app under gunicorn and Celery workers with the Procfile's flags, runs every
scenario (or those named on the command line), and writes
`bench/results/latest.json` and `bench/results/latest.md`.
"""
