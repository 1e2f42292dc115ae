"""Generators: the contract (`base`), the registry, the writer pipeline, and one package per target."""
