"""Jinja2 templates per target (`templates/<target>/`): target-language syntax only.

Naming and derivation happen in Python; templates render with StrictUndefined and
say at their top what context they receive. Targets that use templates add them here.
"""
