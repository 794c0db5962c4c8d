/**
 * The hub addresses a runner's link may use (HAPI_API_URL, comma separated, for several hub
 * replicas; README, "Several hub replicas"): one is current; the link moves to the next when a
 * stream fails or the hub drains. One channel per address, made when first used, for the link
 * (attach streams have connections of their own: attach-upstream.ts).
 */
import { createClient, type Channel, type Client } from 'nice-grpc';
import { MachineServiceDefinition } from '../../contract/machine-link.js';
import { createHubChannel } from '../../shared/hub-client.js';

export type MachineClient = Client<typeof MachineServiceDefinition>;

export interface HubAddresses {
  /** The address in use. */
  readonly url: string;
  readonly count: number;
  /** The link's client for the current address. */
  client(): MachineClient;
  /** The next address becomes current (with one address: the same). */
  moveOn(): void;
  close(): void;
}

export function createHubAddresses(urls: string[], createChannel?: (url: string) => Channel): HubAddresses {
  if (urls.length === 0) throw new Error('no hub address');
  let current = 0;
  const hubs = new Map<string, { channel: Channel; client: MachineClient }>();
  const hubFor = (url: string) => {
    let h = hubs.get(url);
    if (!h) {
      const channel = (createChannel ?? createHubChannel)(url);
      h = { channel, client: createClient(MachineServiceDefinition, channel) };
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
    moveOn() {
      current = (current + 1) % urls.length;
    },
    close() {
      for (const h of hubs.values()) h.channel.close();
      hubs.clear();
    },
  };
}
