/**
 * The hub's web page, ready to mount: `startHub({ ..., wrapHttpHandler: webPage({ config, log }) })`
 * with `config = webConfig(env)` from src/shared/config.ts, which reads (and refuses with a
 * ConfigError naming the variable) HAPI_TELEGRAM_BOT_TOKEN, HAPI_TELEGRAM_USERS(_FILE),
 * HAPI_TELEGRAM_AUTH_MAX_AGE_MS, HAPI_WEB_ORIGINS, HAPI_WEB_FRAME_ANCESTORS, HAPI_WEB_ROOT and
 * HAPI_WEB_TRUSTED_PROXIES
 * before the hub starts listening.
 */
import type { WebConfig } from '../../shared/config-web.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type { StartHubOptions } from '../server.js';
import { createWebLayer } from './web-layer.js';
import type { HubCore } from '../domain/hub-core.js';
import type { Caller } from '../domain/types.js';
import type { AttachBackend } from './attach-socket.js';
import { tablePersistence } from './web-sessions.js';
import { attentionOf, startHubNotifications } from '../notify/hub-notify.js';

export interface WebPageOptions {
  config: WebConfig;
  log?: Logger;
  /**
   * HAPI_HUB_DATABASE_URL: several hub replicas may share the database, so sign-ins are read
   * from it on every request and one replica at a time polls Telegram.
   */
  databaseUrl?: string;
}

/**
 * The `wrapHttpHandler` of startHub: the web page, sign-in and cookie sessions in front of the
 * hub's REST view. The REST handler startHub built is mounted under `/api/` as it is: a bearer
 * request reaches it unchanged, a cookie session's request arrives with its caller.
 */
export function webPage(opts: WebPageOptions): NonNullable<StartHubOptions['wrapHttpHandler']> {
  const { config } = opts;
  const log = opts.log?.child({ c: 'web' });
  const telegram = config.telegram;
  if (telegram) log?.info({ users: telegram.users.size, maxAgeMs: telegram.maxAgeMs }, 'Telegram sign-in enabled');
  return async (rest, core, store) => {
    // Sign-ins live in the hub database: a hub restart signs nobody out.
    // With several replicas (PostgreSQL) the table is the truth on every request: a sign-in or
    // sign-out may have happened on another replica.
    const persistence = await tablePersistence(store, (err) => log?.warn({ err }, 'could not save a web sign-in change'), { shared: opts.databaseUrl !== undefined });
    // Notifications go where the page is: their Open buttons and sign-ins lead here.
    const pollerLock = opts.databaseUrl ? (await import('../store/postgres/pg-singleton-lock.js')).createPgSingletonLock(opts.databaseUrl, 'telegram-poller') : undefined;
    const notifications = await startHubNotifications({ core, store, config, log: log ?? silentLogger(), ...attentionOf(core), pollerLock });
    const web = createWebLayer({
      verifyToken: (token) => core.authenticate(token),
      verifyTokenId: (tokenId) => core.authenticateTokenId(tokenId),
      redeemSignInLink: (code) => core.redeemSignInLink(code),
      sessions: { persistence },
      oneTimeCodes: store,
      // Only a shared database has them: replicas spend one sign-in budget between them.
      sharedRateLimits: store.takeSharedRateLimit ? { takeSharedRateLimit: store.takeSharedRateLimit.bind(store) } : undefined,
      telegram,
      allowedOrigins: config.allowedOrigins,
      frameAncestors: config.frameAncestors,
      webRoot: config.webRoot,
      trustedProxies: config.trustedProxies,
      logger: log,
      attach: (caller, machineId, sessionId) => attachBackend(core, caller, machineId, sessionId),
    });
    return Object.assign(web.handler(rest), {
      upgrade: web.upgrade,
      close() {
        void notifications.close();
        web.close();
      },
    });
  };
}

/** A WebSocket viewer's way into the hub's facade (scopes and namespaces are checked there). */
function attachBackend(core: HubCore, caller: Caller, machineId: string, sessionId: string): AttachBackend {
  return {
    attach: (hello) => core.attachSession(caller, machineId, sessionId, hello),
    sendText: (text, enter) => core.sendInput(caller, machineId, sessionId, { text, enter }),
  };
}
