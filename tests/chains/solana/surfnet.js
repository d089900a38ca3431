// Starts Surfpool's Surfnet (a local Solana network on LiteSVM) offline and prints one JSON
// line {rpcUrl, payer, payerSecretKey}; runs until stdin closes or SIGTERM. The host must
// drain Surfnet's events regularly or its state RPCs stall after a few minutes.
const { Surfnet } = require("@solana/surfpool-linux-x64-gnu");
const net = Surfnet.startWithConfig({ offline: true });
console.log(JSON.stringify({ rpcUrl: net.rpcUrl, payer: net.payer, payerSecretKey: Array.from(net.payerSecretKey) }));
const drain = setInterval(() => { try { net.drainEvents(); } catch (e) {} }, 20);
function stop() { clearInterval(drain); try { net.stop(); } catch (e) {} process.exit(0); }
process.on("SIGTERM", stop); process.on("SIGINT", stop);
process.stdin.on("end", stop); process.stdin.resume();
