"""Authentication: for now the operator's admin bearer token; users, roles and passkeys come later."""
