"""Use cases. They take a unit of work and never commit: the request or job does."""
