import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listenPrivately } from '../../runner/control-socket.js';
import { handoverPath, listenEarly } from './socket-handover.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Sends `text` on a new connection and resolves with the first answer. */
function ask(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(text));
    s.once('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** A server that answers every message with `<name>:<message>`. */
function answering(name: string): Server {
  const server = createServer((s) => s.on('data', (d) => s.write(`${name}:${d}`)).resume());
  cleanups.push(() => server.close());
  return server;
}

/** The same, listening on `path`. */
async function listening(path: string, name: string): Promise<Server> {
  const server = answering(name);
  await listenPrivately(path, () => new Promise<void>((r) => server.listen(path, r)));
  return server;
}

describe('socket handover', () => {
  it('holds connections made before the server exists and hands them to it, and every later one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapi-handover-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'session.sock');
    const early = (await listenEarly(path, {}))!;
    cleanups.push(() => early.close());
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const before = ask(path, 'first');
    // Nothing answers yet: the connection is held, not refused.
    const pending = await Promise.race([before, new Promise((r) => setTimeout(() => r('waiting'), 100))]);
    expect(pending).toBe('waiting');

    const real = answering('real');
    const handed: Socket[] = [];
    early.serve((socket) => {
      handed.push(socket);
      real.emit('connection', socket);
    });
    expect(await before).toBe('real:first');
    expect(await ask(path, 'second')).toBe('real:second');
    // The server got the accepted sockets themselves: nothing in between relays the bytes.
    expect(handed).toHaveLength(2);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses to replace a socket another process serves on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapi-handover-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'session.sock');
    await listening(path, 'other');
    await expect(listenEarly(path, {})).rejects.toMatchObject({ kind: 'FailedPrecondition' });
    expect(await ask(path, 'x')).toBe('other:x');
  });

  it('gives up the temporary name when it would be too long for the OS', () => {
    expect(handoverPath(`/${'d'.repeat(100)}/a.sock`, 'e')).toBeUndefined();
    expect(handoverPath('/run/s/0123456789abcdef.sock', 'e')).toMatch(/^\/run\/s\/\.01234567-e[0-9a-z]+$/);
  });
});
