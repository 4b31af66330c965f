"""Reliability suite (issue 7): attacks on a real gunicorn + Redis + RQ worker stack."""
