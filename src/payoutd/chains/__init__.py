"""Address handling for the blockchains payoutd pays out on."""
