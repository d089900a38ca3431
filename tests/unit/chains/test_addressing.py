"""validate_address against real published addresses of every network.

Sources of the valid addresses: Bitcoin/Litecoin/Dogecoin Core test data (key_io_valid.json,
base58_keys_valid.json), BIP-173/BIP-350 test vectors, EIP-55 test vectors, and well-known
mainnet contracts (USDT, USDC, WETH, WBNB, WMATIC, wrapped SOL, the TON USDT jetton master).
"""

import string
from typing import Final, cast

import pytest
from Crypto.Hash import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from payoutd.chains.addressing import AddressError, validate_address

EVM_NETWORKS: Final = frozenset({"ETH", "BSC", "POLYGON", "BASE"})

# BIP-173 / BIP-350 witness programs reused across chains.
BIP350_TAPROOT: Final = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
USDT_ETH: Final = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
USDT_TRON: Final = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
WSOL: Final = "So11111111111111111111111111111111111111112"
USDT_TON: Final = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"
USDT_TON_RAW: Final = "0:b113a994b5024a16719f69139328eb759596c38a25f59028b146fecdc3621dfe"

# (network, net, address, normalized form; None means returned unchanged)
VALID: Final[list[tuple[str, str, str, str | None]]] = [
    # --- BTC mainnet
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", None),  # genesis coinbase
    ("BTC", "main", "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i", None),  # Core base58 vectors
    ("BTC", "main", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", None),  # P2SH
    ("BTC", "main", "3CMNFxN1oHBc4R1EpboAL5yzHGgE611Xou", None),
    (
        "BTC",
        "main",
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",  # all-uppercase bech32 is valid
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ),
    ("BTC", "main", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", None),
    ("BTC", "main", BIP350_TAPROOT, None),
    (
        "BTC",
        "main",
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        None,
    ),
    # --- BTC testnet
    ("BTC", "test", "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs", None),
    ("BTC", "test", "2N2JD6wb56AfK4tfmM6PwdVmoYk2dCKf4Br", None),
    ("BTC", "test", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", None),
    ("BTC", "test", "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", None),
    ("BTC", "test", "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", None),
    # --- BTC regtest (bitcoind -regtest shares testnet's base58 prefixes)
    ("BTC", "regtest", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", None),
    ("BTC", "regtest", "bcrt1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawhcf2xa", None),
    ("BTC", "regtest", "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs", None),
    ("BTC", "regtest", "2N2JD6wb56AfK4tfmM6PwdVmoYk2dCKf4Br", None),
    # --- LTC mainnet
    ("LTC", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", None),  # Litecoin Core vectors
    ("LTC", "main", "MHrYRxAiMNBTku3eoDHwhA1LQGDjUStZW2", None),  # P2SH, 0x32
    ("LTC", "main", "3CMNFxN1oHBc4R1EpboAL5yzHGgE611Xou", None),  # legacy P2SH, 0x05
    ("LTC", "main", "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", None),
    ("LTC", "main", "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh", None),
    (
        "LTC",
        "main",
        "LTC1QJ08YS4CT2HZZC2HCZ6H2HGRVLMSJYNAWMT3SJH",
        "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh",
    ),
    # --- LTC testnet
    ("LTC", "test", "mwXn5Vhicdav8Av3KMokx4YNuHoGRKxtWs", None),
    ("LTC", "test", "QXaUgLHkZcbJb2j5XgMYzY8cF9YM48Y81Z", None),  # P2SH, 0x3a
    ("LTC", "test", "2N2JD6wb56AfK4tfmM6PwdVmoYk2dCKf4Br", None),  # legacy P2SH, 0xc4
    ("LTC", "test", "tltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawvejepa", None),
    # --- LTC regtest, as litecoind -regtest hands them out
    ("LTC", "regtest", "mpWvR79tSrA5xeziB6mjNYWdaVRwBpgnUP", None),
    ("LTC", "regtest", "QgDNrG4nJpE4VV7PcFMFhkTgwAHWxWS7pj", None),
    ("LTC", "regtest", "rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7k693xs3", None),
    ("LTC", "regtest", "rltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawf4nr3r", None),
    ("LTC", "regtest", "rltc1ph4tspl0kuwvknu4525t8gue330u5p3fy2t2lj7ne6zt7d49cucxs5yl37j", None),
    # --- DOGE (Dogecoin Core vectors)
    ("DOGE", "main", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE", None),
    ("DOGE", "main", "A7HRQk3GFCW2QasvdZxXuYj8kkQK5QrYLs", None),  # P2SH, 0x16
    ("DOGE", "main", "9zYnVRaekPtdKBYuPw5QiBtv3NNrzD2LLW", None),  # P2SH, 0x16
    ("DOGE", "test", "nhRsrUaxZou6sewjqaS37cJrMRJRgwVXdk", None),
    ("DOGE", "test", "2MsvyG12kxxipe276Au4zKqvd2xdrBuHWb3", None),
    ("DOGE", "regtest", "mnaioCtEGdw6bd6rWJ13Mbre1kN5rPa2Mo", None),
    # --- EVM
    ("ETH", "main", USDT_ETH, None),
    ("ETH", "main", USDT_ETH.lower(), USDT_ETH),  # no checksum information: accepted
    ("ETH", "main", "0x" + USDT_ETH[2:].upper(), USDT_ETH),
    ("ETH", "test", USDT_ETH, None),  # net does not matter for EVM
    ("ETH", "main", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", None),  # WETH
    ("ETH", "main", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),  # EIP-55 vectors
    ("ETH", "main", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", None),
    ("ETH", "main", "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", None),
    ("ETH", "main", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb", None),
    ("ETH", "main", "0x52908400098527886E0F7030069857D2E4169EE7", None),
    ("ETH", "main", "0x8617E340B3D01FA5F11F306F4090FD50E238070D", None),
    ("ETH", "main", "0xde709f2102306220921060314715629080e2fb77", None),
    ("ETH", "main", "0x27b1fdb04752bbc536007a920d24acb045561c26", None),
    ("BSC", "main", "0x55d398326f99059fF775485246999027B3197955", None),  # BSC-USD
    (
        "BSC",
        "main",
        "0xbb4cdb9cbd36b01bd1cbaebf2de08d9173bc095c",
        "0xbb4CdB9CBd36B01bD1cBaEBF2De08d9173bc095c",  # WBNB
    ),
    ("POLYGON", "main", "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", None),  # USDT
    ("POLYGON", "main", "0x0d500B1d8E8eF31E21C99d1Db9A6444d3ADf1270", None),  # WMATIC
    ("BASE", "main", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", None),  # USDC
    ("BASE", "main", "0x4200000000000000000000000000000000000006", None),  # WETH predeploy
    # --- TRON
    ("TRON", "main", USDT_TRON, None),
    ("TRON", "main", "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8", None),  # USDC
    # --- SOL
    ("SOL", "main", WSOL, None),
    ("SOL", "main", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", None),  # USDC mint
    ("SOL", "main", "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", None),  # SPL Token
    # --- TON
    ("TON", "main", USDT_TON, None),
    ("TON", "main", "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id/sDs", None),  # base64
    ("TON", "main", "UQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_p0p", None),  # non-bounce
    ("TON", "main", USDT_TON_RAW, None),
    ("TON", "main", USDT_TON_RAW.upper(), USDT_TON_RAW),
    ("TON", "main", "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N", None),
    ("TON", "main", "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF", None),
    ("TON", "main", "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff+W72r5gqPrHF", None),
    ("TON", "main", "Ef8zMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM0vF", None),  # elector
    ("TON", "main", "-1:" + "3" * 64, None),
    ("TON", "test", "kQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_ntm", None),
    ("TON", "test", "0QCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_iaj", None),
    ("TON", "test", USDT_TON, None),
]

# (network, net, address, expected fragment of the reason)
INVALID: Final[list[tuple[str, str, str, str]]] = [
    # valid BIP-350 encodings of future witness versions: refused, anyone could spend them
    ("BTC", "main", "BC1SW50QGDZ25J", "not spendable safely"),
    ("BTC", "main", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "not spendable safely"),
    # --- BTC: corruption
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "bad checksum"),
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN", "bad checksum"),
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa1", "wrong length"),
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", "base58 alphabet"),
    ("BTC", "main", " 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "base58 alphabet"),
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n", "base58 alphabet"),
    ("BTC", "main", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad checksum"),
    ("BTC", "main", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4", "mixed case"),
    # --- BTC: another coin or network
    ("BTC", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", "version byte 0x30"),
    ("BTC", "main", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE", "version byte 0x1e"),
    ("BTC", "main", USDT_TRON, "version byte 0x41"),
    ("BTC", "main", USDT_ETH, "base58 alphabet"),
    ("BTC", "main", "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs", "version byte 0x6f"),
    ("BTC", "main", "2N2JD6wb56AfK4tfmM6PwdVmoYk2dCKf4Br", "version byte 0xc4"),
    ("BTC", "main", "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", "prefix 'ltc'"),
    ("BTC", "main", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "'tb'"),
    ("BTC", "main", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "prefix 'bcrt'"),
    ("BTC", "regtest", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "prefix 'bc'"),
    ("BTC", "test", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "prefix 'bcrt'"),
    ("BTC", "regtest", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "version byte 0x00"),
    # --- BTC: BIP-350 invalid vectors
    (
        "BTC",
        "main",
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
        "prefix 'tc'",
    ),
    (
        "BTC",
        "main",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "v1 must use the bech32m checksum",
    ),
    (
        "BTC",
        "test",
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "v2 must use the bech32m checksum",
    ),
    (
        "BTC",
        "main",
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "v16 must use the bech32m checksum",
    ),
    ("BTC", "main", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "v0 must use the bech32 "),
    (
        "BTC",
        "test",
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "v0 must use the bech32 ",
    ),
    (
        "BTC",
        "main",
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "bech32 alphabet",
    ),
    (
        "BTC",
        "main",
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "witness version 17",
    ),
    ("BTC", "main", "bc1pw5dgrnzv", "program length 1"),
    (
        "BTC",
        "main",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "program length 41",
    ),
    ("BTC", "main", "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "v0 program length 16"),
    (
        "BTC",
        "test",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
        "mixed case",
    ),
    (
        "BTC",
        "main",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "padding",
    ),
    (
        "BTC",
        "test",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "padding",
    ),
    ("BTC", "main", "bc1gmk9yu", "no witness version"),
    # --- LTC
    ("LTC", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeB", "bad checksum"),
    ("LTC", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeAA", "wrong length"),
    ("LTC", "main", "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjg", "bad checksum"),
    ("LTC", "main", "ltc1qJ08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh", "mixed case"),
    ("LTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "version byte 0x00"),
    ("LTC", "main", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE", "version byte 0x1e"),
    ("LTC", "main", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "prefix 'bc'"),
    ("LTC", "main", BIP350_TAPROOT, "prefix 'bc'"),
    ("LTC", "main", "mwXn5Vhicdav8Av3KMokx4YNuHoGRKxtWs", "version byte 0x6f"),
    ("LTC", "main", "QXaUgLHkZcbJb2j5XgMYzY8cF9YM48Y81Z", "version byte 0x3a"),
    ("LTC", "main", "tltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawvejepa", "prefix 'tltc'"),
    ("LTC", "main", "rltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawf4nr3r", "prefix 'rltc'"),
    ("LTC", "test", "rltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawf4nr3r", "prefix 'rltc'"),
    ("LTC", "regtest", "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh", "prefix 'ltc'"),
    ("LTC", "regtest", "tltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawvejepa", "prefix 'tltc'"),
    ("LTC", "regtest", "bcrt1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawhcf2xa", "prefix 'bcrt'"),
    ("LTC", "regtest", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", "version byte 0x30"),
    # --- DOGE
    ("DOGE", "main", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkF", "bad checksum"),
    ("DOGE", "main", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkEE", "wrong length"),
    ("DOGE", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "version byte 0x00"),
    ("DOGE", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", "version byte 0x30"),
    ("DOGE", "main", "nhRsrUaxZou6sewjqaS37cJrMRJRgwVXdk", "version byte 0x71"),
    ("DOGE", "main", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "segwit"),
    ("DOGE", "test", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE", "version byte 0x1e"),
    ("DOGE", "regtest", "nhRsrUaxZou6sewjqaS37cJrMRJRgwVXdk", "version byte 0x71"),
    # --- EVM
    ("ETH", "main", "0xdAC17F958D2ee523a2206206994597C13D831eC7", "bad EIP-55 checksum"),
    ("ETH", "main", "0xdAC17F958D2ee523a2206206994597C13D831ec8", "bad EIP-55 checksum"),
    ("ETH", "main", USDT_ETH[:-1], "wrong length"),
    ("ETH", "main", USDT_ETH + "7", "wrong length"),
    ("ETH", "main", USDT_ETH[2:], "must start with 0x"),
    ("ETH", "main", "0X" + USDT_ETH[2:], "must start with 0x"),
    ("ETH", "main", "0xgAC17F958D2ee523a2206206994597C13D831ec7", "non-hex"),
    ("ETH", "main", "0x" + "0" * 40, "zero address"),
    ("ETH", "main", USDT_TRON, "must start with 0x"),
    ("ETH", "main", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "must start with 0x"),
    ("ETH", "main", "0x41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "wrong length"),
    ("ETH", "main", WSOL, "must start with 0x"),
    ("BSC", "main", "0x55d398326f99059fF775485246999027B3197956", "bad EIP-55 checksum"),
    ("BSC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "must start with 0x"),
    ("POLYGON", "main", "0xc2132D05D31c914a87C6611C10748AEb04B58e8f", "bad EIP-55 checksum"),
    ("BASE", "main", "0x833589fcD6eDb6E08f4c7C32D4f71b54bdA02913", "bad EIP-55 checksum"),
    # --- TRON
    ("TRON", "main", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "bad checksum"),
    ("TRON", "main", "tR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "bad checksum"),
    ("TRON", "main", USDT_TRON + "t", "wrong length"),
    ("TRON", "main", USDT_TRON[:-1] + "O", "base58 alphabet"),
    ("TRON", "main", USDT_TRON + " ", "base58 alphabet"),
    ("TRON", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "prefix byte 0x00"),
    ("TRON", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", "prefix byte 0x30"),
    ("TRON", "main", USDT_ETH, "base58 alphabet"),
    ("TRON", "main", "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb", "zero address"),  # black hole
    # --- SOL (no checksum exists, so only alphabet and length can fail)
    ("SOL", "main", WSOL[:-1], "wrong length"),
    ("SOL", "main", WSOL + "1", "wrong length"),
    ("SOL", "main", WSOL[:-1] + "0", "base58 alphabet"),
    ("SOL", "main", WSOL[:-1] + "l", "base58 alphabet"),
    ("SOL", "main", WSOL + "\t", "base58 alphabet"),
    ("SOL", "main", USDT_TRON, "wrong length"),
    ("SOL", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "wrong length"),
    ("SOL", "main", USDT_ETH, "base58 alphabet"),
    ("SOL", "main", USDT_TON, "base58 alphabet"),
    ("SOL", "main", "1" * 32, "zero address"),  # System Program id
    # --- TON
    ("TON", "main", "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDt", "bad checksum"),
    ("TON", "main", "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2IdsDs_", "bad checksum"),
    ("TON", "main", USDT_TON[:-1], "wrong length"),
    ("TON", "main", USDT_TON + "A", "wrong length"),
    ("TON", "main", USDT_TON[:20] + " " + USDT_TON[21:], "not base64"),
    # Both base64 alphabets in one string: no encoder produces that.
    ("TON", "main", "EQBIBqzmS1HB/XIGdD064B56sia2M-NVvW-3UTSTA6NYF4pq", "not base64"),
    ("TON", "main", "kQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_ntm", "testnet-only"),
    ("TON", "main", "0QCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_iaj", "testnet-only"),
    # Valid CRC, but flags 0x12 / workchain 0x01 / all-zero account.
    ("TON", "main", "EgCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_nSi", "flags byte 0x12"),
    ("TON", "main", "EQGxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_k0w", "workchain byte 0x01"),
    ("TON", "main", "EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c", "zero address"),
    ("TON", "main", "1" + USDT_TON_RAW[1:], "workchain must be 0 or -1"),
    ("TON", "main", "0" + USDT_TON_RAW, "workchain must be 0 or -1"),
    ("TON", "main", "-0" + USDT_TON_RAW[1:], "workchain must be 0 or -1"),
    ("TON", "main", USDT_TON_RAW[:-1], "64 hex digits"),
    ("TON", "main", USDT_TON_RAW + "0", "64 hex digits"),
    ("TON", "main", USDT_TON_RAW[:-1] + "g", "64 hex digits"),
    ("TON", "main", "0:" + "0" * 64, "zero address"),
    ("TON", "main", USDT_ETH, "wrong length"),
    ("TON", "main", USDT_TRON, "wrong length"),
    ("TON", "main", WSOL, "wrong length"),
]


@pytest.mark.parametrize(("network", "net", "address", "normalized"), VALID)
def test_valid_address_is_returned_normalized(
    network: str, net: str, address: str, normalized: str | None
) -> None:
    expected = address if normalized is None else normalized
    assert validate_address(network, address, net=net) == expected
    # Normalizing is idempotent, so a stored address re-validates to itself.
    assert validate_address(network, expected, net=net) == expected


@pytest.mark.parametrize(("network", "net", "address", "reason"), INVALID)
def test_invalid_address_is_rejected_with_reason(
    network: str, net: str, address: str, reason: str
) -> None:
    with pytest.raises(AddressError) as excinfo:
        validate_address(network, address, net=net)
    message = str(excinfo.value)
    assert message.startswith(f"Invalid {network} address: ")
    assert reason in message


@pytest.mark.parametrize(
    ("network", "net", "address", "message"),
    [
        ("XRP", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "Unsupported network: 'XRP'"),
        ("btc", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "Unsupported network: 'btc'"),
        ("BTC", "mainnet", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "Unsupported net: 'mainnet'"),
        ("BTC", "main", "", "Invalid BTC address: empty or not a string"),
        ("ETH", "main", "0x" + "a" * 200, "Invalid ETH address: too long"),
        ("SOL", "main", "2" * 500, "Invalid SOL address: too long"),
    ],
)
def test_request_errors(network: str, net: str, address: str, message: str) -> None:
    with pytest.raises(AddressError, match=f"^{message}$"):
        validate_address(network, address, net=net)


def test_non_string_is_rejected() -> None:
    with pytest.raises(AddressError, match="not a string"):
        validate_address("BTC", cast(str, None))


def test_address_error_is_a_value_error() -> None:
    assert issubclass(AddressError, ValueError)


# Addresses that carry a checksum: any single substitution must be caught. An exhaustive
# run over every position and every character of SUBSTITUTES found no exception beyond what
# _substitute_may_pass allows, so this test is deterministic despite the random draws.
CHECKSUMMED: Final[list[tuple[str, str, str]]] = [
    ("BTC", "main", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    ("BTC", "main", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    ("BTC", "test", "mo9ncXisMeAoXwqcV5EWuyncbmCcQN4rVs"),
    ("LTC", "main", "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"),
    ("LTC", "main", "MHrYRxAiMNBTku3eoDHwhA1LQGDjUStZW2"),
    ("DOGE", "main", "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE"),
    ("DOGE", "main", "A7HRQk3GFCW2QasvdZxXuYj8kkQK5QrYLs"),
    ("BTC", "main", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
    ("BTC", "main", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"),
    ("BTC", "main", BIP350_TAPROOT),
    ("BTC", "test", "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"),
    ("BTC", "regtest", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"),
    ("LTC", "main", "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh"),
    ("LTC", "regtest", "rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7k693xs3"),
    ("ETH", "main", USDT_ETH),
    ("ETH", "main", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    ("BSC", "main", "0x55d398326f99059fF775485246999027B3197955"),
    ("POLYGON", "main", "0xc2132D05D31c914a87C6611C10748AEb04B58e8F"),
    ("BASE", "main", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
    # EIP-55 vectors whose checksummed form is single-case.
    ("ETH", "main", "0xde709f2102306220921060314715629080e2fb77"),
    ("ETH", "main", "0x52908400098527886E0F7030069857D2E4169EE7"),
    ("TRON", "main", USDT_TRON),
    ("TRON", "main", "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"),
    ("TON", "main", USDT_TON),
    ("TON", "main", "UQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_p0p"),
    ("TON", "main", "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF"),
    ("TON", "main", "Ef8zMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM0vF"),
]
SUBSTITUTES: Final = string.ascii_letters + string.digits + "+/-_: "
HEX_DIGITS: Final = frozenset(string.hexdigits)
_TO_STANDARD_BASE64: Final = str.maketrans("-_", "+/")


def _eip55(address: str) -> str:
    """EIP-55 computed from its definition, independently of eth_utils."""
    body = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=body.encode("ascii")).hexdigest()[: len(body)]
    cased = (c.upper() if int(h, 16) >= 8 else c for c, h in zip(body, digest, strict=True))
    return "0x" + "".join(cased)


def _substitute_may_pass(network: str, original: str, mutant: str) -> bool:
    """Whether accepting `mutant` is correct rather than a missed corruption."""
    if network in EVM_NETWORKS:
        body = mutant[2:]
        if not mutant.startswith("0x") or len(body) != 40 or not set(body) <= HEX_DIGITS:
            return False
        # Single-case hex carries no EIP-55 information (a case flip that leaves one case,
        # or any digit change in such an address), and EIP-55 is a few hash bits, not an
        # error-detecting code: a changed digit keeps the casing right with odds
        # 2^-(letters), e.g. one in 32 for BSC-USD (see test_eip55_only_checks_letter_case).
        return body in (body.lower(), body.upper()) or mutant == _eip55(mutant)
    if network == "TON":
        # '-'/'+' and '_'/'/' are the same digit in base64url and base64.
        return mutant.translate(_TO_STANDARD_BASE64) == original.translate(_TO_STANDARD_BASE64)
    return False


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_single_character_substitution_is_rejected(data: st.DataObject) -> None:
    network, net, original = data.draw(st.sampled_from(CHECKSUMMED))
    position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
    replacement = data.draw(st.sampled_from(SUBSTITUTES).filter(lambda c: c != original[position]))
    mutant = original[:position] + replacement + original[position + 1 :]
    try:
        validate_address(network, mutant, net=net)
    except AddressError:
        return
    assert _substitute_may_pass(network, original, mutant), mutant


def test_eip55_only_checks_letter_case() -> None:
    # BSC-USD has five hex letters, so EIP-55 carries five bits for it: this one-digit typo
    # of 0x55d398326f99059fF775485246999027B3197955 happens to be correctly checksummed.
    # No validator can catch it; payouts to new EVM addresses need another safeguard.
    typo = "0xB5d398326f99059fF775485246999027B3197955"
    assert validate_address("BSC", typo) == typo


@settings(max_examples=300, deadline=None)
@given(body=st.binary(min_size=20, max_size=20).filter(any), flip=st.integers(0, 39))
def test_eip55_checksum_matches_eth_utils(body: bytes, flip: int) -> None:
    # payoutd computes EIP-55 over safe-pysha3's keccak; eth_utils is the reference
    from eth_utils.address import to_checksum_address

    from payoutd.chains.evm.address import checksum

    expected = to_checksum_address("0x" + body.hex())
    assert checksum(body.hex()) == expected == _eip55(expected)
    assert validate_address("ETH", "0x" + body.hex()) == expected
    assert validate_address("ETH", expected) == expected
    letter = expected[2 + flip]
    wrong = expected[: 2 + flip] + letter.swapcase() + expected[3 + flip :]
    if letter.isalpha() and wrong[2:] not in (wrong[2:].lower(), wrong[2:].upper()):
        with pytest.raises(AddressError, match="EIP-55"):
            validate_address("ETH", wrong)


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(min_size=0, max_size=40),
    position=st.integers(0, 80),
    replacement=st.sampled_from(string.digits + string.ascii_letters + " "),
)
def test_base58check_matches_the_libraries(payload: bytes, position: int, replacement: str) -> None:
    # payoutd decodes Base58Check itself (speed); embit and base58 are the references
    import base58
    from embit import base58 as embit_base58

    from payoutd.chains import base58check

    text = base58.b58encode_check(payload).decode()
    assert embit_base58.encode_check(payload) == text
    assert base58check.decode(text) == base58.b58decode(text)
    assert base58check.decode_check(text, len(payload) + 4) == payload
    with pytest.raises(ValueError, match="wrong length"):
        base58check.decode_check(text, len(payload) + 5)
    i = position % len(text)
    mutant = text[:i] + replacement + text[i + 1 :]
    try:
        expected: bytes | None = base58.b58decode_check(mutant)
    except ValueError:
        expected = None
    if replacement not in base58check.ALPHABET:
        with pytest.raises(ValueError, match="alphabet"):
            base58check.decode(mutant)
        return
    try:
        got: bytes | None = base58check.decode_check(mutant, len(base58.b58decode(mutant)))
    except base58check.BadChecksum:
        got = None
    assert got == expected
