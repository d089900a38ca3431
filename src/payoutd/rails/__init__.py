"""Bank rails behind services.ports.BankRail and PaymentFiles: the sandbox bank, and
the files real banks take and give."""
