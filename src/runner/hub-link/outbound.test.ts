import { describe, expect, it } from 'vitest';
import { metadataToProto, runnerStateToProto } from '../../contract/common.js';
import { LINK_MESSAGE_MAX_BYTES, connectRequestBytes } from '../../contract/machine-link.js';
import type { SessionInfo } from '../../contract/types.js';
import { silentLogger } from '../../shared/logger.js';
import { boundedHello, fitMessage, sessionEventMessage } from './outbound.js';

const log = silentLogger();
const fields = {
  machineId: 'm-1',
  metadata: metadataToProto({ hostname: 'h', platform: 'linux', arch: 'x64', cliVersion: 't', displayName: 'h', homeDir: '/h', agents: [] }),
  runnerState: runnerStateToProto({ status: 'running', pid: 1, shutdownReason: '', lastSpawnError: '', httpPort: 0 }),
  protocolVersion: 1,
  capabilities: [],
  installFingerprint: 'f',
};
const session = (id: string, directory = `/${'d'.repeat(4095)}`): SessionInfo => ({
  id,
  pid: 1,
  startedBy: 'terminal',
  directory,
  agent: 'claude',
  startedAt: new Date(0),
  state: 'running',
});

describe('hub link outbound bounds', () => {
  it('puts as many sessions in the hello as fit, in order, and keeps the rest for later', () => {
    const sessions = Array.from({ length: 600 }, (_, i) => session(`s-${i}`));
    const { hello, later } = boundedHello(fields, sessions, log);
    const inHello = hello.message?.$case === 'hello' ? hello.message.value.sessions.map((s) => s.id) : [];
    expect(connectRequestBytes(hello)).toBeLessThanOrEqual(LINK_MESSAGE_MAX_BYTES);
    expect(inHello.length).toBeGreaterThan(100);
    expect([...inHello, ...later.map((s) => s.id)]).toEqual(sessions.map((s) => s.id));
  });

  it('never sends a session that breaks the rules, and fails when not even an empty hello fits', () => {
    const { hello, later } = boundedHello(fields, [session('../../x', '/'), session('ok', '/'), session('long', `/${'d'.repeat(5000)}`)], log);
    expect(hello.message?.$case === 'hello' && hello.message.value.sessions.map((s) => s.id)).toEqual(['ok']);
    expect(later).toEqual([]);
    expect(sessionEventMessage('started', session('a'.repeat(129), '/'), log)).toBeUndefined();
    expect(() => boundedHello(fields, [], log, 10)).toThrow(/over the link's limit/);
  });

  it('replaces an oversized answer with an error answer and drops other oversized messages', () => {
    const big = 'x'.repeat(2_000);
    const answer = { message: { $case: 'rpcResponse' as const, value: { requestId: 'r1', result: { $case: 'error' as const, value: { code: 13, message: big } } } } };
    const fitted = fitMessage(answer, log, 1_000);
    expect(fitted?.message).toMatchObject({ $case: 'rpcResponse', value: { requestId: 'r1', result: { $case: 'error', value: { code: 8 } } } });
    expect(connectRequestBytes(fitted!)).toBeLessThan(1_000);
    const event = sessionEventMessage('started', session('s', '/'), log)!;
    expect(fitMessage(event, log)).toBe(event);
    expect(fitMessage(event, log, 10)).toBeUndefined();
  });
});
