"""The app factory, configuration, middleware and wiring of a Streamhub node."""
