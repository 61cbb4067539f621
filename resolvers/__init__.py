"""Resolvers: the functions behind the schema's fields. They never import ``schema``."""
