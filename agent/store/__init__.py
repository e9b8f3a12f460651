"""The database: schema (tables, versions) and database (the Store: idempotent writes, reads)."""
