/** How the CLI shows a session's activity (`hapi sessions`, `hapi runner list`, `hapi approve`). */
import { activityFromProto } from '../../contract/activity.js';
import type { AgentActivityInfo, ApprovalRequestInfo } from '../../contract/activity-types.js';

type ProtoActivity = Parameters<typeof activityFromProto>[0];

/** The activity of a session message, or undefined (unknown, or a state this build does not know). */
export function readActivity(a: ProtoActivity): AgentActivityInfo | undefined {
  try {
    return activityFromProto(a);
  } catch {
    return undefined;
  }
}

/** What a request asks, in a few words: `Bash: npm test`. */
export function requestLabel(r: ApprovalRequestInfo): string {
  const what = r.command || r.file || r.description;
  return what ? `${r.tool}: ${what}` : r.tool;
}

/** One short column: `working`, `waiting (guess)`, `NEEDS APPROVAL: Bash: ls`, `exited`, `-`. */
export function activityLabel(a: AgentActivityInfo | undefined): string {
  if (!a) return '-';
  const guess = a.guess ? ' (guess)' : '';
  switch (a.state) {
    case 'needs_approval': {
      const first = a.requests[0];
      const more = a.requests.length > 1 ? ` (+${a.requests.length - 1})` : '';
      return `NEEDS APPROVAL${first ? `: ${requestLabel(first)}` : ''}${more}${first?.atTerminal ? ' [at the terminal]' : ''}`;
    }
    case 'waiting_for_input':
      return `waiting${guess}${a.message ? `: ${a.message}` : ''}`;
    default:
      return `${a.state}${guess}`;
  }
}
