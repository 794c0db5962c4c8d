/**
 * List your machines on a hub and start a session on the first online one, using nothing but
 * the generated HubService client (gen/hapi/hub/v1/hub.ts) and nice-grpc.
 *
 *   HAPI_API_URL=http://127.0.0.1:3737 CLI_API_TOKEN=<token> node <compiled>.js /path/on/machine
 *
 * A third-party tool does the same after generating its own client from proto/.
 */
import { pathToFileURL } from 'node:url';
import { ChannelCredentials, createChannel, createClient, Metadata } from 'nice-grpc';
import { HubServiceDefinition } from '../gen/hapi/hub/v1/hub.js';

export async function listAndSpawn(hubUrl: string, token: string, directory: string) {
  const url = new URL(hubUrl);
  const channel = createChannel(url.host, url.protocol === 'https:' ? ChannelCredentials.createSsl() : ChannelCredentials.createInsecure());
  const hub = createClient(HubServiceDefinition, channel, { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });
  try {
    const { machines } = await hub.listMachines({});
    for (const m of machines) console.log(`${m.id}  ${m.metadata?.displayName ?? ''}  ${m.online ? 'online' : 'offline'}`);
    const target = machines.find((m) => m.online);
    if (!target) throw new Error('no online machine');
    const { outcome } = await hub.spawnSession({
      machineId: target.id,
      spec: { directory, agent: '', sessionId: '', approveCreateDirectory: true, requestId: '', agentArgs: [] },
    });
    if (outcome?.result?.$case !== 'session') throw new Error(`not spawned: ${JSON.stringify(outcome)}`);
    console.log(`started session ${outcome.result.value.id} on ${target.id}`);
    return { machineId: target.id, session: outcome.result.value };
  } finally {
    channel.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [directory = process.cwd()] = process.argv.slice(2);
  listAndSpawn(process.env.HAPI_API_URL ?? 'http://127.0.0.1:3737', process.env.CLI_API_TOKEN ?? '', directory).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
