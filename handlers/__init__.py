"""The domains, one package each: routes (HTTP edge), models, service (rules), events."""
