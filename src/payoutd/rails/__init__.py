"""Bank rails for real banks: the payment files operators upload (SEPA pain.001, NACHA)
and the statements they download (camt.053, MT940), translated to and from the records of
payoutd.domain.banking. Like the chains, an adapter layer: it knows services.ports and the
domain, nothing above them."""
