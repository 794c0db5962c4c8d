// Notifications: time from an activity event entering the hub's notifier to the notification
// request arriving at (a) a fake Telegram Bot API server (sendMessage) and (b) a Web Push
// endpoint (the encrypted POST), both over loopback, p50/p99. The hub core and store run in this
// process (as in the hub); the session's screen comes from a runner link answering the hub's
// session-screen relay, so each notification includes that round trip, its aes128gcm
// encryption and VAPID signature. The coalescing window is set to 0 (BENCH_COALESCE_MS) to
// measure the pipeline; with the default window (2 s) every figure is that much later, by design.
// BENCH_N events (default 300), one session each, so no rule holds any back.
import { createECDH, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createHubCore, openHubStore, silentLogger, startHubNotifications, webConfig } from '../dist/bench-support.mjs';
import { fmt, summarize } from './lib.mjs';

const N = Number(process.env.BENCH_N ?? 300);
const COALESCE = process.env.BENCH_COALESCE_MS ?? '0';

function listen(handler) {
  const server = createServer(handler);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}
const read = (req) => new Promise((r) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => r(Buffer.concat(c))); });

const arrivedTelegram = new Map();
const arrivedPush = new Map();
const telegram = await listen(async (req, res) => {
  const body = JSON.parse((await read(req)).toString() || '{}');
  const at = performance.now();
  if (req.url.endsWith('/sendMessage')) {
    // The message names the session by its directory: /work/s<i>.
    const id = /<b>(s\d+) \(claude\)<\/b>/.exec(body.text)?.[1];
    if (id) arrivedTelegram.set(id, at);
    return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { message_id: 1 } }));
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: [] }));
});
const push = await listen(async (req, res) => {
  await read(req);
  arrivedPush.set(req.url.slice(1), performance.now());
  res.writeHead(201).end();
});

const store = openHubStore(':memory:');
const core = await createHubCore({ store, log: silentLogger(), aliveTimeoutMs: 60_000, spawnDeadlineMs: 5_000, rpcDeadlineMs: 5_000, pushAllowLoopbackHttp: true });
const caller = { namespace: 'default', owner: false, tokenId: 'bench', scope: 'full' };
const T0 = new Date();
const sessions = Array.from({ length: N }, (_, i) => ({ id: `s${i}`, pid: 100 + i, startedBy: 'runner', directory: `/work/s${i}`, agent: 'claude', startedAt: T0, state: 'running' }));
// A runner link that answers the hub's session-screen relay at once.
let link;
link = await core.attachMachine(caller, {
  machineId: 'm1',
  metadata: { hostname: 'bench', platform: 'linux', arch: 'x64', cliVersion: '1.0.0', displayName: 'bench', homeDir: '/home/u', agents: ['claude'] },
  runnerState: { status: 'running', pid: 42, startedAt: T0, shutdownReason: '', lastSpawnError: '', httpPort: 0 },
  protocolVersion: 1, capabilities: [], sessions, installFingerprint: '',
}, {
  send(msg) {
    if (msg.type !== 'rpc' || msg.call.method !== 'session-screen') return;
    const text = `$ npm test\n  ${msg.call.sessionId} ok\nAllow Bash(npm publish)? [y/n]`;
    queueMicrotask(() => link.rpcResult(msg.requestId, { method: 'session-screen', screen: { screen: { ansi: text, text, cursor: { x: 0, y: 2 }, cols: 80, rows: 24, offset: 0 }, ended: false } }));
  },
  close() {},
});

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
await core.push.subscribe(caller, { endpoint: `http://127.0.0.1:${push.address().port}/placeholder`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } });
// One subscription; which session a push was for is read from a per-event endpoint below.
const subs = await store.listPushSubscriptions('default');
await store.deletePushSubscription(subs[0].endpoint);

const listeners = new Set();
const notifications = await startHubNotifications({
  core, store, log: silentLogger(),
  config: webConfig({ HAPI_TELEGRAM_BOT_TOKEN: '7000003:AAH_bench-bot-token-not-real', HAPI_TELEGRAM_USERS: '1001:default', HAPI_TELEGRAM_API_URL: `http://127.0.0.1:${telegram.address().port}`, HAPI_NOTIFY_COALESCE_MS: COALESCE }),
  source: { subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) },
  decide: async () => {},
  notifier: { namespaceLimit: { burst: N + 10, intervalMs: 1 } },
});

const sent = new Map();
const waitFor = async (check) => { while (!check()) await new Promise((r) => setTimeout(r, 1)); };
for (let i = 0; i < N; i++) {
  const id = `s${i}`;
  // The push endpoint path names the session, so arrival is matched per event.
  await store.savePushSubscription({ ...subs[0], endpoint: `http://127.0.0.1:${push.address().port}/${id}`, createdAt: new Date() });
  const t = performance.now();
  sent.set(id, t);
  for (const l of listeners) l({ namespace: 'default', machineId: 'm1', sessionId: id, state: 'needs_approval', requests: [{ id: `r${i}`, tool: 'Bash', command: 'npm publish', file: '', description: '', choices: ['allow', 'deny'] }], at: new Date() });
  await waitFor(() => arrivedTelegram.has(id) && arrivedPush.has(id));
  await store.deletePushSubscription(`http://127.0.0.1:${push.address().port}/${id}`);
}
const tg = summarize([...sent].map(([id, t]) => arrivedTelegram.get(id) - t));
const wp = summarize([...sent].map(([id, t]) => arrivedPush.get(id) - t));
console.log(`notify: activity event -> request at the receiver, ${N} events, coalescing window ${COALESCE} ms, loopback`);
console.log(`  Telegram sendMessage  p50 ${fmt(tg.p50)}  p99 ${fmt(tg.p99)}  mean ${fmt(tg.mean)}`);
console.log(`  Web Push POST         p50 ${fmt(wp.p50)}  p99 ${fmt(wp.p99)}  mean ${fmt(wp.mean)}`);
await notifications.close();
core.close();
await store.close();
telegram.close();
push.close();
