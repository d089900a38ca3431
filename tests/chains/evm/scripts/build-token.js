// Rebuilds artifacts/TestToken.json (abi + bytecode) from contracts/TestToken.sol with
// solc-js, the compiler pinned in package.json: nothing is downloaded at build time
// (`hardhat compile` would fetch a native solc). Run: npm run build-token
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.join(__dirname, "..");
const source = fs.readFileSync(path.join(root, "contracts", "TestToken.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "TestToken.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    outputSelection: { "*": { TestToken: ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const compiled = output.contracts["TestToken.sol"].TestToken;
const artifact = {
  contractName: "TestToken",
  compiler: `solc-js ${solc.version()}`,
  abi: compiled.abi,
  bytecode: "0x" + compiled.evm.bytecode.object,
};
fs.mkdirSync(path.join(root, "artifacts"), { recursive: true });
const target = path.join(root, "artifacts", "TestToken.json");
fs.writeFileSync(target, JSON.stringify(artifact, null, 2) + "\n");
console.log(`wrote ${path.relative(process.cwd(), target)}`);
