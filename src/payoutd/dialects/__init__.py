"""Provider wire formats as pure translation: status words, result objects, signatures
and webhook bodies of each provider payoutd speaks (DESIGN §9). No rule lives here; the
HTTP side of each dialect is payoutd.api.compat, and the worker signs a dialect's
webhooks with the callback formats built from these (payoutd.bootstrap)."""
