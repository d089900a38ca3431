// A local TON network for payoutd's TON tests: the official emulator (@ton/sandbox, the
// TVM and transaction executor TON's own nodes run) behind a THIN toncenter-v2 HTTP front.
//
// What is real: every message is executed by the emulator. Wallet code checks the
// signature, seqno and valid_until of an external message in TVM, an overspend fails in
// the action phase, a message to an uninitialized account bounces when it is bounceable,
// the jetton contracts (the standard jetton-minter / jetton-wallet, compiled, from
// @ton-community/assets-sdk) move balances and send transfer_notification and excesses.
//
// What is this test's own: the HTTP layer. It answers the toncenter v2 endpoints payoutd
// calls (sendBoc, getAddressInformation, getWalletInformation, getTransactions,
// runGetMethod, getConfigAll, getMasterchainInfo, lookupBlock) in toncenter's shapes,
// {"ok": true, "result": ...}, with transactions carried as their BOC ("data") the way
// toncenter serves them. It models blocks only as far as tests need them: an accepted
// external message waits in a queue (the "mempool") until a block is made, either by
// POST /sandbox/mine or every --block-ms milliseconds; each block gets the next
// masterchain seqno, the wall clock's unixtime and the range of lts its transactions
// took, and executes the queue in order (a
// message the wallet refuses, e.g. a seqno already used, leaves no trace, as on TON). It
// does not emulate a lite server's pre-check of external messages, shards or proofs.
//
// Test-only endpoints (never on a real toncenter): POST /sandbox/fund {address, amount}
// (nanotons, non-bounceable from a treasury), POST /sandbox/jetton {} (deploys a jetton
// minter, answers its address), POST /sandbox/mint {master, to, amount}, POST
// /sandbox/mine {blocks}, POST /sandbox/automine {block_ms}, POST /sandbox/forget {}.
//
// Usage: node server.js [--port N] [--block-ms N]; prints {"url": ...} as one JSON line.
'use strict';

const http = require('http');
const { Blockchain, internal } = require('@ton/sandbox');
const { Address, Cell, beginCell, toNano } = require('@ton/core');
const { JettonMinter } = require('@ton-community/assets-sdk/dist/jetton/JettonMinter');

const SHARD = '-9223372036854775808';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main() {
  const blockchain = await Blockchain.create();
  const treasury = await blockchain.treasury('payoutd-tests');
  const history = new Map(); // raw address -> transactions, newest last
  const blocks = []; // {seqno, utime}
  let queue = []; // pending external messages (base64 BOCs)
  let now = Math.floor(Date.now() / 1000);
  let timer = null;

  const friendly = (a) => a.toString({ bounceable: true, urlSafe: true });

  function record(result, utime) {
    for (const tx of result.transactions) {
      const address = new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex'));
      const key = address.toRawString();
      if (!history.has(key)) history.set(key, []);
      history.get(key).push({ tx, utime });
    }
  }

  // Chain time follows the wall clock (wallets judge valid_until by it); blocks made
  // within one second share it.
  function nextTime() {
    now = Math.max(now, Math.floor(Date.now() / 1000));
    blockchain.now = now;
    return now;
  }

  // a block ends at the largest lt of its transactions (or where the previous one ended)
  function closeBlock(utime, results) {
    const prev = blocks.length ? blocks[blocks.length - 1].endLt : 0n;
    let endLt = prev;
    for (const result of results) {
      for (const tx of result.transactions) if (tx.lt > endLt) endLt = tx.lt;
    }
    blocks.push({ seqno: blocks.length + 1, utime, endLt });
  }

  // The test-only actions go through the jetton contracts' own send methods; this
  // sender hands their messages to the emulator and keeps the results to record them.
  let captured = [];
  const sender = {
    address: treasury.address,
    async send(args) {
      const message = internal({
        from: treasury.address,
        to: args.to,
        value: args.value,
        bounce: args.bounce ?? true,
        body: args.body ?? undefined,
        stateInit: args.init ?? undefined,
      });
      captured.push(await blockchain.sendMessage(message));
    },
  };

  async function run(fn) {
    // a test-only action executes at once, in a block of its own
    const utime = nextTime();
    captured = [];
    await fn();
    for (const result of captured) record(result, utime);
    closeBlock(utime, captured);
  }

  async function mine(count) {
    for (let i = 0; i < count; i++) {
      const utime = nextTime();
      const pending = queue;
      queue = [];
      const results = [];
      for (const boc of pending) {
        try {
          const result = await blockchain.sendMessage(Cell.fromBase64(boc));
          record(result, utime);
          results.push(result);
        } catch (err) {
          // refused by the account's code (bad signature, used seqno, expired): no trace
        }
      }
      closeBlock(utime, results);
    }
  }
  await mine(1);

  function message(msg) {
    if (!msg) return null;
    const info = msg.info;
    const body = msg.body;
    const out = {
      '@type': 'raw.message',
      source: info.src && info.type !== 'external-in' ? friendly(info.src) : '',
      destination: info.dest && info.type !== 'external-out' ? friendly(info.dest) : '',
      value: info.type === 'internal' ? info.value.coins.toString() : '0',
      fwd_fee: info.type === 'internal' ? info.forwardFee.toString() : '0',
      ihr_fee: info.type === 'internal' ? info.ihrFee.toString() : '0',
      created_lt: info.createdLt !== undefined ? info.createdLt.toString() : '0',
      body_hash: body.hash().toString('base64'),
      msg_data: { '@type': 'msg.dataRaw', body: body.toBoc().toString('base64'), init_state: '' },
      message: '',
    };
    return out;
  }

  function transaction(entry) {
    const { tx, utime } = entry;
    const address = new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex'));
    return {
      '@type': 'raw.transaction',
      address: { '@type': 'accountAddress', account_address: friendly(address) },
      utime,
      data: tx.raw.toBoc().toString('base64'),
      transaction_id: {
        '@type': 'internal.transactionId',
        lt: tx.lt.toString(),
        hash: tx.hash().toString('base64'),
      },
      fee: tx.totalFees.coins.toString(),
      storage_fee: '0',
      other_fee: tx.totalFees.coins.toString(),
      in_msg: message(tx.inMessage),
      out_msgs: [...tx.outMessages.values()].map(message),
    };
  }

  async function account(address) {
    const contract = await blockchain.getContract(address);
    const state = contract.accountState;
    const status = !state ? 'uninitialized' : state.type === 'active' ? 'active' : state.type === 'frozen' ? 'frozen' : 'uninitialized';
    const last = contract.account.lastTransactionLt;
    const hash = contract.account.lastTransactionHash;
    return {
      contract,
      info: {
        '@type': 'raw.fullAccountState',
        balance: contract.balance.toString(),
        code: status === 'active' && state.state.code ? state.state.code.toBoc().toString('base64') : '',
        data: status === 'active' && state.state.data ? state.state.data.toBoc().toString('base64') : '',
        last_transaction_id: {
          '@type': 'internal.transactionId',
          lt: last.toString(),
          hash: Buffer.from(hash.toString(16).padStart(64, '0'), 'hex').toString('base64'),
        },
        frozen_hash: '',
        state: status,
        sync_utime: now,
      },
    };
  }

  function stackItem(item) {
    if (item.type === 'int') return ['num', '0x' + item.value.toString(16)];
    if (item.type === 'cell') return ['cell', { bytes: item.cell.toBoc().toString('base64') }];
    if (item.type === 'slice') return ['slice', { bytes: item.cell.toBoc().toString('base64') }];
    if (item.type === 'null') return ['null', null];
    return [item.type, null];
  }

  function parseStack(stack) {
    return (stack || []).map(([type, value]) => {
      if (type === 'num') return { type: 'int', value: BigInt(value) };
      if (type === 'tvm.Slice' || type === 'slice') return { type: 'slice', cell: Cell.fromBase64(value) };
      if (type === 'tvm.Cell' || type === 'cell') return { type: 'cell', cell: Cell.fromBase64(value) };
      throw new Error(`unsupported stack entry ${type}`);
    });
  }

  const handlers = {
    async sendBoc(q, body) {
      const boc = body.boc;
      const cell = Cell.fromBase64(boc); // an unparsable BOC is refused here, as toncenter does
      if (!queue.includes(boc)) queue.push(boc);
      return { '@type': 'ok', hash: cell.hash().toString('base64') };
    },
    async getAddressInformation(q) {
      return (await account(Address.parse(q.address))).info;
    },
    async getWalletInformation(q) {
      const { contract, info } = await account(Address.parse(q.address));
      const out = {
        wallet: false,
        balance: info.balance,
        account_state: info.state,
        last_transaction_id: info.last_transaction_id,
      };
      if (info.state === 'active') {
        try {
          const r = await contract.get('seqno');
          out.wallet = true;
          out.wallet_type = 'wallet v4 r2';
          out.seqno = Number(r.stackReader.readBigNumber());
        } catch (err) {
          // not a wallet
        }
      }
      return out;
    },
    async getTransactions(q) {
      const key = Address.parse(q.address).toRawString();
      const limit = Number(q.limit || 10);
      let list = [...(history.get(key) || [])].reverse();
      if (q.lt) list = list.filter((e) => e.tx.lt <= BigInt(q.lt));
      if (q.to_lt) list = list.filter((e) => e.tx.lt > BigInt(q.to_lt));
      return list.slice(0, limit).map(transaction);
    },
    async runGetMethod(q, body) {
      const args = { ...q, ...body };
      const contract = await blockchain.getContract(Address.parse(args.address));
      let r;
      try {
        r = await contract.get(args.method, parseStack(args.stack));
      } catch (err) {
        return { '@type': 'smc.runResult', gas_used: 0, stack: [], exit_code: err.exitCode ?? -13 };
      }
      return { '@type': 'smc.runResult', gas_used: Number(r.gasUsed), stack: r.stack.map(stackItem), exit_code: r.exitCode };
    },
    async getConfigAll() {
      return { '@type': 'configInfo', config: { '@type': 'tvm.cell', bytes: blockchain.configBase64 } };
    },
    async getMasterchainInfo() {
      const last = blocks[blocks.length - 1];
      return { '@type': 'blocks.masterchainInfo', last: blockId(last), init: blockId(blocks[0]) };
    },
    async lookupBlock(q) {
      // masterchain blocks by lt (the block whose lt range holds it) or by unixtime (the
      // last one made at or before it)
      let found;
      if (q.lt !== undefined) {
        const lt = BigInt(q.lt);
        found = blocks.find((b) => b.endLt >= lt);
      } else {
        const t = Number(q.unixtime);
        found = [...blocks].reverse().find((b) => b.utime <= t);
      }
      if (!found) throw new Error('block not found');
      return blockId(found);
    },
    // --- test-only ---
    async 'sandbox/fund'(q, body) {
      await run(() => sender.send({ to: Address.parse(body.address), value: BigInt(body.amount), bounce: false }));
      return {};
    },
    async 'sandbox/jetton'() {
      const content = beginCell().storeUint(1, 8).storeStringTail('https://payoutd.invalid/jetton.json').endCell();
      const minter = blockchain.openContract(JettonMinter.createFromConfig({ admin: treasury.address, content }));
      await run(() => minter.sendDeploy(sender, toNano('0.1')));
      return { address: friendly(minter.address) };
    },
    async 'sandbox/mint'(q, body) {
      const minter = blockchain.openContract(JettonMinter.createFromAddress(Address.parse(body.master)));
      await run(() => minter.sendMint(sender, Address.parse(body.to), BigInt(body.amount), { value: toNano('0.1') }));
      return {};
    },
    async 'sandbox/mine'(q, body) {
      await mine(Number(body.blocks || 1));
      return { seqno: blocks.length };
    },
    async 'sandbox/forget'() {
      // the waiting external messages vanish, as ones no validator took do
      const forgotten = queue.length;
      queue = [];
      return { forgotten };
    },
    async 'sandbox/automine'(q, body) {
      if (timer) clearInterval(timer);
      timer = null;
      const ms = Number(body.block_ms || 0);
      if (ms > 0) timer = setInterval(() => enqueue(() => mine(1)), ms);
      return {};
    },
  };

  function blockId(b) {
    return { '@type': 'ton.blockIdExt', workchain: -1, shard: SHARD, seqno: b.seqno, root_hash: '', file_hash: '' };
  }

  // one request at a time: the emulator's state is not meant for interleaved sends
  let chain = Promise.resolve();
  function enqueue(fn) {
    const p = chain.then(fn);
    chain = p.catch(() => {});
    return p;
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const name = url.pathname.replace(/^\/(api\/v2\/)?/, '');
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const reply = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      const handler = handlers[name];
      if (!handler) return reply(404, { ok: false, error: 'Not Found', code: 404 });
      let body = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch (err) {
        return reply(400, { ok: false, error: 'bad JSON', code: 400 });
      }
      const q = Object.fromEntries(url.searchParams.entries());
      enqueue(() => handler(q, body)).then(
        (result) => reply(200, { ok: true, result }),
        (err) => reply(500, { ok: false, error: String(err && err.message ? err.message : err), code: 500 }),
      );
    });
  });
  const blockMs = arg('--block-ms', 0);
  if (blockMs > 0) await handlers['sandbox/automine']({}, { block_ms: blockMs });
  server.listen(arg('--port', 0), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }) + '\n');
  });
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
