"""The runtime every generated API imports: problems, the model, the database, auth, rows."""
