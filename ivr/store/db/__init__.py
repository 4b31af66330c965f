"""The call archive's database: SQLAlchemy Core tables, engines and alembic migrations.

PostgreSQL in production (every host shares it), SQLite as the embedded default (``ivr
serve``). :mod:`ivr.jobs.archive` reads and writes through it; nothing else opens the
database.
"""
