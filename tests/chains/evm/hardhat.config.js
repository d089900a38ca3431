// The local EVM node payoutd's tests run (tests/chains/hardhat.py starts it with
// `npx hardhat node`). Nothing is compiled here: the test ERC-20 is built with solc-js
// (scripts/build-token.js) and deployed by the tests from artifacts/TestToken.json.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      // Automining mines every transaction on arrival; the tests mine extra blocks with
      // evm_mine for confirmations.
      mining: { auto: true },
      // Like a real node: a transaction that reverts is still mined (status 0) and
      // eth_sendRawTransaction answers its hash instead of an error.
      throwOnTransactionFailures: false,
      throwOnCallFailures: true,
      // Genesis blocks carry an initial base fee, so EIP-1559 pricing is exercised.
      initialBaseFeePerGas: 1000000000,
    },
  },
};
