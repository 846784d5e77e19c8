"""Django's PostgreSQL backend with bounded waits (``ENGINE = "parley.core.postgres"``)."""
