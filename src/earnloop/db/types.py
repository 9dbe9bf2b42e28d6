"""Column types every domain's tables share (``SERIAL_ID``), on the base floor so that a domain's
``models.py`` takes them from ``db/`` and not from another domain's tables (ADR 0022)."""

from sqlalchemy import BigInteger, Integer

# A 64-bit surrogate key. SQLite only auto-increments an INTEGER PRIMARY KEY.
SERIAL_ID = BigInteger().with_variant(Integer, "sqlite")
