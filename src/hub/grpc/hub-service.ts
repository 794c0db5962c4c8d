/** HubService and TokenService: gRPC adapters over HubCore (convert and delegate only). */
import type { CallContext } from 'nice-grpc';
import { sessionScreenToProto } from '../../contract/runner.js';
import { sessionInputFromProto, viewerEventToProto, viewerMessageFromProto } from '../../contract/session.js';
import { sessionToProto, spawnOutcomeToProto, spawnSpecFromProto, stopResultToProto } from '../../contract/common.js';
import { approvalDecisionCallFromProto } from '../../contract/activity.js';
import {
  callerOriginFromProto,
  decisionRecordToProto,
  machineToProto,
  tokenScopeFromProto,
  tokenScopeToProto,
  tokenToProto,
  type HubServiceImplementation,
  type TokenServiceImplementation,
} from '../../contract/hub.js';
import { statusReportToProto } from '../../contract/machine-link.js';
import { InvalidArgumentError, isHapiError, UnavailableError, type HapiError } from '../../shared/errors.js';
import type { HubCore } from '../domain/hub-core.js';
import { signInUrl } from '../domain/sign-in-links.js';
import type { CallerContext } from './auth.js';

type Ctx = CallContext & CallerContext;

export function createHubService(core: HubCore): HubServiceImplementation<CallerContext> {
  return {
    async whoAmI(_req, ctx: Ctx) {
      const { namespace, owner, tokenId, scope } = ctx.caller;
      return { namespace, owner, tokenId, scope: tokenScopeToProto(scope), serverTime: new Date() };
    },
    async listMachines(_req, ctx: Ctx) {
      return { machines: (await core.listMachines(ctx.caller)).map(machineToProto) };
    },
    async *watchMachines(_req, ctx: Ctx) {
      for await (const e of core.watch(ctx.caller, { machines: true }, ctx.signal)) {
        if (e.type === 'machine') yield { machine: machineToProto(e.machine) };
      }
    },
    async listSessions(req, ctx: Ctx) {
      const sessions = await core.listSessions(ctx.caller, { machineId: req.machineId || undefined, includeEnded: req.includeEnded });
      return { sessions: sessions.map((s) => sessionToProto({ ...s, ...core.sessionActivity(s) })) };
    },
    async *watchSessions(req, ctx: Ctx) {
      for await (const e of core.watch(ctx.caller, { sessions: true, machineId: req.machineId || undefined }, ctx.signal)) {
        if (e.type === 'session') yield { session: sessionToProto({ ...e.session, ...core.sessionActivity(e.session) }) };
      }
    },
    async spawnSession(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      const outcome = await core.spawnSession(ctx.caller, req.machineId, spawnSpecFromProto(req.spec), ctx.signal);
      return { outcome: spawnOutcomeToProto(outcome.kind === 'session' && outcome.session ? { kind: 'session', session: outcome.session } : outcome, req.machineId) };
    },
    async stopSession(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      return { result: stopResultToProto(await core.stopSession(ctx.caller, req.machineId, req.sessionId, ctx.signal)) };
    },
    async stopRunner(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      await core.stopRunner(ctx.caller, req.machineId, ctx.signal);
      return {};
    },
    async getRunnerStatus(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      return statusReportToProto(await core.getRunnerStatus(ctx.caller, req.machineId, ctx.signal));
    },
    async *attachSession(requests, ctx: Ctx) {
      const incoming = requests[Symbol.asyncIterator]();
      const first = await incoming.next();
      if (first.done) return;
      const { machineId, sessionId } = first.value;
      if (!machineId || !sessionId) throw new InvalidArgumentError('the first AttachSession message must name the machine and the session');
      if (!first.value.request) throw new InvalidArgumentError('the first AttachSession message must carry a hello');
      const hello = viewerMessageFromProto(first.value.request);
      if (hello.kind !== 'hello') throw new InvalidArgumentError('the first AttachSession message must carry a hello');
      const relay = core.attachSession(ctx.caller, machineId, sessionId, hello.hello);
      let failure: HapiError | undefined;
      const onAbort = () => relay.close();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      // The viewer's messages go up as they come; a bad or forbidden one ends this viewer only.
      void (async () => {
        try {
          for (let r = await incoming.next(); !r.done; r = await incoming.next()) {
            const m = r.value;
            if ((m.machineId && m.machineId !== machineId) || (m.sessionId && m.sessionId !== sessionId)) {
              throw new InvalidArgumentError('an AttachSession stream stays with its first machine and session');
            }
            if (!m.request) throw new InvalidArgumentError('AttachSession message without a request');
            relay.send(viewerMessageFromProto(m.request));
          }
        } catch (err) {
          if (isHapiError(err)) {
            failure = err;
            relay.close(err);
          } else relay.close();
        }
      })();
      try {
        for await (const e of relay) yield { response: viewerEventToProto(e) };
        if (failure) throw failure;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        relay.close();
      }
    },
    async getSessionScreen(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      return { screen: sessionScreenToProto(await core.getSessionScreen(ctx.caller, req.machineId, req.sessionId, ctx.signal)) };
    },
    async decideApproval(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      const call = approvalDecisionCallFromProto(req);
      const record = await core.decideApproval(ctx.caller, req.machineId, req.sessionId, call, callerOriginFromProto(req.origin), ctx.signal);
      return { record: decisionRecordToProto(record) };
    },
    async listApprovalDecisions(req, ctx: Ctx) {
      return { records: (await core.listApprovalDecisions(ctx.caller, req.machineId, req.sessionId)).map(decisionRecordToProto) };
    },
    async sendInput(req, ctx: Ctx) {
      if (!req.machineId) throw new InvalidArgumentError('machine_id is required');
      if (!req.input) throw new InvalidArgumentError('input is required');
      await core.sendInput(ctx.caller, req.machineId, req.sessionId, sessionInputFromProto(req.input), ctx.signal);
      return {};
    },
  };
}

/** `signInBase`: the hub's HTTP URL, where sign-in links point. */
export function createTokenService(core: HubCore, signInBase: () => string): TokenServiceImplementation<CallerContext> {
  return {
    async createSignInLink(_req, ctx: Ctx) {
      const base = signInBase();
      if (!base) throw new UnavailableError('the hub is still starting: ask again');
      const link = await core.createSignInLink(ctx.caller);
      return { url: signInUrl(base, link.code), code: link.code, expiresAt: link.expiresAt };
    },
    async createToken(req, ctx: Ctx) {
      const t = await core.createToken(ctx.caller, req.namespace, req.label, tokenScopeFromProto(req.scope));
      return { ...t, scope: tokenScopeToProto(t.scope) };
    },
    async listTokens(_req, ctx: Ctx) {
      return { tokens: (await core.listTokens(ctx.caller)).map(tokenToProto) };
    },
    async revokeToken(req, ctx: Ctx) {
      if (!req.tokenId) throw new InvalidArgumentError('token_id is required');
      await core.revokeToken(ctx.caller, req.tokenId);
      return {};
    },
  };
}
