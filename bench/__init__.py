"""Benchmarks: run each as ``python -m bench.<name>`` or ``python bench/<name>.py``."""

TOKEN = "bench-token"
"""The Twilio auth token every benchmark's server checks signatures with."""
CLOCK = "2026-11-20T14:05:00-05:00"
"""A Friday afternoon: the flows' lines are open."""
BASE = "http://localhost"
"""The base URL of in-process requests (the Flask test client, WSGI calls)."""
