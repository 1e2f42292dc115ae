"""Names in a project's folder, importable without the compiler (a `gen` command finds the
project before it knows whether it needs to compile: importing pydantic took 60-90 ms)."""

CONFIG_FILE = "gen.toml"
