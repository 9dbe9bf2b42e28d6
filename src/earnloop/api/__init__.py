"""HTTP API: the FastAPI app factory and one thin router per domain (parse → service → serialise)."""
