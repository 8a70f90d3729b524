"""Domain logic with no I/O: errors, passwords, tokens. Every other layer may import it."""
