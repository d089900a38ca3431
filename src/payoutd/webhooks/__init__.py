"""Webhooks: Standard Webhooks signatures, the retry policy, the SSRF guard, delivery."""
