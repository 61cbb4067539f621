"""The HTTP service: settings, app factory, command line."""
