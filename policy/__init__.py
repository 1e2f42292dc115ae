"""Policies: expression trees (`tree`) and their readable rendering (`render`)."""
