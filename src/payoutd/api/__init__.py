"""The HTTP edge: the native API (v1) and the provider dialects (compat)."""
