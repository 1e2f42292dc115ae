"""The model compiler: model files -> declarations -> passes -> frozen IR."""
