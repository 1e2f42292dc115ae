"""The same Reframe model as Django models and as SQLAlchemy models, for `bench.migrate_compare`.

Only the benchmark imports this package: Django, SQLAlchemy and Alembic are
installed by the `bench` extra, never by the product.
"""
