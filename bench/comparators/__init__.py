"""The same Reframe model for the other migration tools, for `bench.migrate_compare`.

Django gets it translated into Django models; Alembic gets the generated
`db/tables.py`. Only the benchmark imports this package, and Django comes
from the `bench` extra, never from the product.
"""
