"""The HTTP service: settings, the app factory, routes beside /graphql (saved queries,
exports, imports, metrics), the websocket, the command line.

The top layer: it may import ``schema``, ``resolvers`` and ``db``; nothing imports it.
"""
