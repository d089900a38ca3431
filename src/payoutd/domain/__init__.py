"""Pure payout rules: no I/O, no framework imports."""
