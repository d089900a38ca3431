"""Bank rails, like the chains an adapter layer (services.ports and the domain, nothing
above them): the sandbox bank (sandbox.py, the embedded default), the payment files
operators upload to real banks (SEPA pain.001, NACHA) and the statements they download
(camt.053, MT940), translated to and from the records of payoutd.domain.banking."""
