/**
 * The hub addresses a runner's link may use (HAPI_API_URL, comma separated, for several hub
 * replicas; README, "Several hub replicas"): one is current; the link moves to the next when a
 * stream fails or the hub drains. One pair of channels per address, made when first used: the
 * link's own and a separate connection for attach streams, so terminal output never queues in
 * front of alive messages and relayed calls.
 */
import { createClient, type Channel, type Client } from 'nice-grpc';
import { MachineServiceDefinition } from '../../contract/machine-link.js';
import { AttachStreamPassthroughDefinition } from '../../contract/attach-passthrough.js';
import { createHubChannel, SEPARATE_CONNECTION } from '../../shared/hub-client.js';

export type MachineClient = Client<typeof MachineServiceDefinition>;
/** Attach streams send the session's answers as they came, already encoded (attach-passthrough.ts). */
export type AttachClient = Client<typeof AttachStreamPassthroughDefinition>;

export interface HubAddresses {
  /** The address in use. */
  readonly url: string;
  readonly count: number;
  /** The link's client for the current address. */
  client(): MachineClient;
  /** The attach streams' client for the current address. */
  attachClient(): AttachClient;
  /** The next address becomes current (with one address: the same). */
  moveOn(): void;
  close(): void;
}

export function createHubAddresses(urls: string[], createChannel?: (url: string) => Channel): HubAddresses {
  if (urls.length === 0) throw new Error('no hub address');
  let current = 0;
  const hubs = new Map<string, { channel: Channel; client: MachineClient; attachChannel: Channel; attachClient: AttachClient }>();
  const hubFor = (url: string) => {
    let h = hubs.get(url);
    if (!h) {
      const channel = (createChannel ?? createHubChannel)(url);
      const attachChannel = createChannel ? channel : createHubChannel(url, SEPARATE_CONNECTION);
      h = { channel, client: createClient(MachineServiceDefinition, channel), attachChannel, attachClient: createClient(AttachStreamPassthroughDefinition, attachChannel) };
      hubs.set(url, h);
    }
    return h;
  };
  return {
    get url() {
      return urls[current]!;
    },
    count: urls.length,
    client: () => hubFor(urls[current]!).client,
    attachClient: () => hubFor(urls[current]!).attachClient,
    moveOn() {
      current = (current + 1) % urls.length;
    },
    close() {
      for (const h of hubs.values()) {
        h.channel.close();
        if (h.attachChannel !== h.channel) h.attachChannel.close();
      }
      hubs.clear();
    },
  };
}
