"""REST handlers, one module per resource. Each exposes `routes`, a `server.routing.Router`."""
