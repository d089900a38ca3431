"""Provider dialects: each provider's wire format over payoutd's own use cases (DESIGN §9)."""
