"""Pydantic models at the HTTP edge: requests forbid unknown fields, responses list theirs."""
