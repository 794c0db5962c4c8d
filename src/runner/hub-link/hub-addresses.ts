/**
 * The hub addresses a runner's link may use (HAPI_API_URL, comma separated, for several hub
 * replicas; README, "Several hub replicas"): one is current; the link moves to the next (in an
 * order of its own after the first: tryOrder) when a stream fails or the hub drains. One channel per address, made when first used, for the link
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
  /** The next address in this runner's order becomes current (with one address: the same); see tryOrder. */
  moveOn(): void;
  close(): void;
}

/**
 * The order a runner tries the addresses in: the first as listed (the preferred one), then the
 * others in an order of its own, at random. Every runner lists the replicas alike, so in list
 * order the runners of a replica that dies would all land on the one listed after it, a herd on
 * one replica while the others idle; in orders of their own they spread over all that are left.
 */
export function tryOrder(count: number, random: () => number = Math.random): number[] {
  const rest = Array.from({ length: count - 1 }, (_, i) => i + 1);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  return [0, ...rest];
}

export function createHubAddresses(urls: string[], createChannel?: (url: string) => Channel, random?: () => number): HubAddresses {
  if (urls.length === 0) throw new Error('no hub address');
  const order = tryOrder(urls.length, random);
  /** Position in `order`. */
  let at = 0;
  const current = () => order[at]!;
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
      return urls[current()]!;
    },
    count: urls.length,
    client: () => hubFor(urls[current()]!).client,
    moveOn() {
      at = (at + 1) % urls.length;
    },
    close() {
      for (const h of hubs.values()) h.channel.close();
      hubs.clear();
    },
  };
}
