/**
 * Telegram notifications against a fake Bot API server of the test's own: the hub's notifier
 * (real HubCore and store) sends the mapped users of the session's namespace a message naming
 * the session and machine with its last screen line escaped, Approve / Deny / Open buttons; a
 * callback query decides through `decide`, is answered and the message edited; another
 * namespace's user can neither receive nor press; muted and viewed sessions stay quiet.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubCore } from '../src/hub/domain/hub-core.js';
import type { HubCore } from '../src/hub/domain/hub-core-api.js';
import type { HubStore } from '../src/hub/domain/ports.js';
import { caller, hello, log, memoryStore, session } from '../src/hub/domain/test-support.js';
import type { ActivityEvent, NotificationDecision } from '../src/hub/domain/notify/activity-event.js';
import { startHubNotifications, type HubNotifications } from '../src/hub/notify/hub-notify.js';
import { webConfig } from '../src/shared/config-web.js';
import { FailedPreconditionError } from '../src/shared/errors.js';
import { startFakeTelegram, type FakeTelegram } from './fake-telegram.js';
import { waitFor } from './harness.js';

const BOT_TOKEN = '7000002:AAH_notify-test-bot-token-not-real';
const ALICE = 1001; // namespace default
const BOB = 2002; // namespace teamb

describe('Telegram notifications', () => {
  let tg: FakeTelegram;
  let store: HubStore;
  let core: HubCore;
  let notifications: HubNotifications;
  let emit: (e: ActivityEvent) => void;
  let decisions: NotificationDecision[];
  let settled: Set<string>;

  beforeEach(async () => {
    tg = await startFakeTelegram();
    store = memoryStore();
    core = await createHubCore({ store, log, aliveTimeoutMs: 45_000, spawnDeadlineMs: 5_000, rpcDeadlineMs: 100 });
    const sink = { send: () => undefined, close: () => undefined };
    const a = await core.attachMachine(caller('default'), hello('m1', { metadata: { ...hello('m1').metadata, displayName: 'laptop <a>' }, sessions: [session('s1', { directory: '/src/app' })] }), sink);
    await a.sessionActivity([{ sessionId: 's1', lastLine: 'Run `rm -rf <build> && ls`?', lastOutputAt: new Date() }]);
    await core.attachMachine(caller('teamb'), hello('m2', { sessions: [session('s2')] }), sink);
    decisions = [];
    settled = new Set();
    const listeners = new Set<(e: ActivityEvent) => void>();
    emit = (e) => listeners.forEach((l) => l(e));
    notifications = await startHubNotifications({
      core,
      store,
      log,
      config: webConfig({
        HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
        HAPI_TELEGRAM_USERS: `${ALICE}:default,${BOB}:teamb`,
        HAPI_TELEGRAM_API_URL: tg.url,
        HAPI_HUB_PUBLIC_URL: 'https://hapi.example.com',
        HAPI_NOTIFY_COALESCE_MS: '20',
      }),
      source: { subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) },
      async decide(d) {
        const key = `${d.sessionId}/${d.requestId}`;
        if (settled.has(key)) throw new FailedPreconditionError(`request ${d.requestId} is no longer pending`);
        settled.add(key);
        decisions.push(d);
      },
    });
  });

  afterEach(async () => {
    await notifications.close();
    core.close();
    await store.close();
    await tg.close();
  });

  const ask = (namespace: string, machineId: string, sessionId: string, requestId: string): ActivityEvent => ({
    namespace,
    machineId,
    sessionId,
    state: 'needs_approval',
    requests: [{ id: requestId, tool: 'Bash', command: 'rm -rf build', file: '', description: '', choices: ['allow', 'deny'] }],
    at: new Date(),
  });
  type Keyboard = { text: string; callback_data?: string; web_app?: { url: string } }[][];
  const keyboardOf = (body: Record<string, unknown>) => (body.reply_markup as { inline_keyboard: Keyboard }).inline_keyboard;
  const press = (from: number, data: string) => tg.pushUpdate({ callback_query: { id: `cb-${from}-${data}`, from: { id: from, username: `u${from}` }, data } });

  it('sends the namespace\'s users the session, the machine, the escaped screen and Approve / Deny / Open; a press approves', async () => {
    emit(ask('default', 'm1', 's1', 'r1'));
    const [msg] = await waitFor(() => (tg.callsOf('sendMessage').length ? tg.callsOf('sendMessage') : undefined));
    expect(msg!.token).toBe(BOT_TOKEN);
    expect(msg!.body).toMatchObject({ chat_id: ALICE, parse_mode: 'HTML' });
    const text = msg!.body.text as string;
    expect(text).toContain('Needs your approval');
    expect(text).toContain('<b>app (claude)</b> on <b>laptop &lt;a&gt;</b>');
    expect(text).toContain('Bash: <code>rm -rf build</code>');
    expect(text).toContain('<pre>Run `rm -rf &lt;build&gt; &amp;&amp; ls`?</pre>');
    const keyboard = keyboardOf(msg!.body);
    expect(keyboard[0]!.map((b) => b.text)).toEqual(['Approve', 'Deny']);
    expect(keyboard[1]).toEqual([{ text: 'Open', web_app: { url: 'https://hapi.example.com/?open=m1%2Fs1' } }]);

    press(ALICE, keyboard[0]![0]!.callback_data!);
    await waitFor(() => tg.callsOf('editMessageText').length > 0);
    expect(decisions).toEqual([{ namespace: 'default', machineId: 'm1', sessionId: 's1', requestId: 'r1', allow: true, who: `telegram:${ALICE}`, via: 'telegram' }]);
    expect(tg.callsOf('answerCallbackQuery')[0]!.body).toMatchObject({ text: `✅ Approved by @u${ALICE}` });
    const edit = tg.callsOf('editMessageText')[0]!.body;
    expect(edit).toMatchObject({ chat_id: ALICE, message_id: 1 });
    expect(edit.text).toContain('Approved by @u1001');
    expect(keyboardOf(edit)).toEqual([keyboard[1]]);

    // Pressed again: told the outcome, nothing decided twice.
    press(ALICE, keyboard[0]![1]!.callback_data!);
    await waitFor(() => tg.callsOf('answerCallbackQuery').length === 2);
    expect(decisions).toHaveLength(1);
    expect(tg.callsOf('answerCallbackQuery')[1]!.body.text).toMatch(/Approved/);
  });

  it('never crosses namespaces: only the namespace\'s users get it, and another\'s press is refused', async () => {
    emit(ask('teamb', 'm2', 's2', 'rb'));
    await waitFor(() => tg.callsOf('sendMessage').length === 1);
    const msg = tg.callsOf('sendMessage')[0]!;
    expect(msg.body.chat_id).toBe(BOB);
    const deny = keyboardOf(msg.body)[0]![1]!.callback_data!;
    press(ALICE, deny);
    await waitFor(() => tg.callsOf('answerCallbackQuery').length === 1);
    expect(tg.callsOf('answerCallbackQuery')[0]!.body.text).toMatch(/not known/);
    expect(decisions).toEqual([]);
    press(BOB, deny);
    await waitFor(() => decisions.length === 1);
    expect(decisions[0]).toMatchObject({ namespace: 'teamb', requestId: 'rb', allow: false });
    // A made-up reference is refused the same way.
    press(BOB, 'a:madeup');
    await waitFor(() => tg.callsOf('answerCallbackQuery').length === 3);
    expect(tg.callsOf('answerCallbackQuery')[2]!.body.text).toMatch(/not known/);
  });

  it('a request answered elsewhere: the press is refused and the message says so', async () => {
    settled.add('s1/r9');
    emit(ask('default', 'm1', 's1', 'r9'));
    await waitFor(() => tg.callsOf('sendMessage').length === 1);
    press(ALICE, keyboardOf(tg.callsOf('sendMessage')[0]!.body)[0]![0]!.callback_data!);
    await waitFor(() => tg.callsOf('editMessageText').length === 1);
    expect(tg.callsOf('answerCallbackQuery')[0]!.body.text).toMatch(/no longer pending/);
    expect(tg.callsOf('editMessageText')[0]!.body.text).toMatch(/no longer pending/);
    expect(decisions).toEqual([]);
  });

  it('a muted or viewed session sends nothing; waiting for input has no decision buttons', async () => {
    await store.setSessionMuted('default', 'm1', 's1', true, new Date());
    emit(ask('default', 'm1', 's1', 'r1'));
    const viewer = core.attachSession(caller('teamb'), 'm2', 's2', { mode: 'read-only' });
    emit(ask('teamb', 'm2', 's2', 'r2'));
    await waitFor(() => notifications.notifier.pending === 0);
    await notifications.notifier.idle();
    viewer.close();
    await store.setSessionMuted('default', 'm1', 's1', false, new Date());
    emit({ namespace: 'default', machineId: 'm1', sessionId: 's1', state: 'waiting_for_input', requests: [], at: new Date() });
    await waitFor(() => tg.callsOf('sendMessage').length === 1);
    const only = tg.callsOf('sendMessage')[0]!.body;
    expect(only.text).toContain('Waiting for your input');
    expect(keyboardOf(only).map((row) => row.map((b) => b.text))).toEqual([['Open']]);
  });
});
