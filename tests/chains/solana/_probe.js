const { Surfnet } = require("@solana/surfpool-linux-x64-gnu");
const net = Surfnet.startWithConfig({ offline: true, blockProductionMode: process.argv[2] || "manual" });
console.log(JSON.stringify({ rpcUrl: net.rpcUrl, payer: net.payer }));
const drain = setInterval(() => { try { net.drainEvents(); } catch (e) {} }, 20);
setTimeout(()=>{net.stop(); process.exit(0)}, 120000);
