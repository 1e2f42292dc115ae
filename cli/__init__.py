"""The `gen` command line."""
