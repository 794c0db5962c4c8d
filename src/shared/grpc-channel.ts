/** gRPC channel construction shared by every client (CLI -> runner, runner -> hub, tests). */
import { ChannelCredentials, createChannel, type Channel } from 'nice-grpc';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

/** A channel to a Unix domain socket. nice-grpc needs the triple-slash form `unix:///abs`. */
export function createUdsChannel(socketPath: string, extraOptions: Record<string, string | number> = {}): Channel {
  return createChannel(`unix://${socketPath}`, ChannelCredentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
    ...extraOptions,
  });
}


/** Routes grpc-js's own diagnostics into our logger instead of stderr. */
export function routeGrpcLogs(log: Logger): void {
  grpc.setLogger({
    error: (...args: unknown[]) => log.debug({ c: 'grpc-js' }, args.map(String).join(' ')),
    info: (...args: unknown[]) => log.trace({ c: 'grpc-js' }, args.map(String).join(' ')),
    debug: (...args: unknown[]) => log.trace({ c: 'grpc-js' }, args.map(String).join(' ')),
  } as Console);
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
}
