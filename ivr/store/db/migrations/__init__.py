"""The archive's alembic migrations (run by :mod:`ivr.store.db.schema`)."""
