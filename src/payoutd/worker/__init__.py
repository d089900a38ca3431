"""The background loops: release scheduled payouts, batch and send, confirm, mine."""
