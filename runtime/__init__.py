"""The small library generated apps import: queries, pagination, policy enforcement,
auth, audit and errors. Generated code calls it rather than repeating logic per entity.
"""
