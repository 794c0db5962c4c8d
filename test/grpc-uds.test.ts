// The generated definitions work end to end: a real nice-grpc server and client make one call
// over a Unix socket in a temporary directory.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, createServer, ServerError, Status, type Server } from 'nice-grpc';
import { RunnerServiceDefinition, type RunnerServiceImplementation } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { StartedBy } from '../gen/hapi/common/v1/common.js';

describe('generated RunnerService over a Unix socket', () => {
  let server: Server | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await server?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves and calls unary RPCs, including error statuses', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hapi-uds-'));
    const socket = join(dir, 'runner.sock');
    const unimplemented = async () => {
      throw new ServerError(Status.UNIMPLEMENTED, 'not in this test');
    };
    const impl: RunnerServiceImplementation = {
      spawnSession: unimplemented,
      stopRunner: unimplemented,
      sessionStarted: unimplemented,
      sessionEnded: unimplemented,
      getSessionScreen: unimplemented,
      sessionActivityChanged: unimplemented,
      decideApproval: unimplemented,
      // eslint-disable-next-line require-yield
      async *attachSession() {
        throw new ServerError(Status.UNIMPLEMENTED, 'not in this test');
      },
      // eslint-disable-next-line require-yield
      async *watchSessions() {
        throw new ServerError(Status.UNIMPLEMENTED, 'not in this test');
      },
      async getStatus() {
        return { pid: process.pid, cliVersion: 'test', cliMtimeMs: 1, httpPort: 0, socketPath: socket, logPath: '', sessionCount: 0, hapiHome: dir!, workspaceRoots: [], cliPath: '' };
      },
      async listSessions() {
        return { sessions: [{ id: 'abc', pid: 1, startedBy: StartedBy.STARTED_BY_RUNNER, directory: '/', agent: 'claude', state: 2, exitSignal: '', machineId: '' }], terminals: {} };
      },
      async stopSession() {
        throw new ServerError(Status.NOT_FOUND, 'no such session');
      },
    };
    server = createServer();
    server.add(RunnerServiceDefinition, impl);
    await server.listen(`unix://${socket}`);
    expect(statSync(socket).isSocket()).toBe(true);

    const channel = createUdsChannel(socket);
    try {
      const client = createClient(RunnerServiceDefinition, channel);
      const status = await client.getStatus({});
      expect(status.pid).toBe(process.pid);
      expect(status.socketPath).toBe(socket);
      const list = await client.listSessions({});
      expect(list.sessions[0]).toMatchObject({ id: 'abc', startedBy: StartedBy.STARTED_BY_RUNNER });
      await expect(client.spawnSession({})).rejects.toMatchObject({ code: Status.UNIMPLEMENTED });
      await expect(client.stopSession({ target: { $case: 'sessionId', value: 'x' } })).rejects.toMatchObject({
        code: Status.NOT_FOUND,
        details: 'no such session',
      });
    } finally {
      channel.close();
    }
  });
});
