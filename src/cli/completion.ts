/**
 * `hapi completion bash|zsh|fish`: shell completion scripts generated from the commander command
 * tree at run time, so they name exactly the commands and options this build has. Each script
 * holds the tree as tables (children and options per command path) and a small function that
 * walks the words typed so far to the current command, then offers its subcommands and options,
 * the agents after `--agent`, and files for a command's arguments.
 */
import type { Command, Option } from 'commander';
import { InvalidArgumentError } from '../shared/errors.js';

/** One command of the tree as completion needs it. */
export interface CompletionNode {
  /** Space-separated path from the root ('' for hapi itself, 'runner status'). */
  path: string;
  description: string;
  children: string[];
  /** Every flag (long and short forms). */
  options: { flag: string; description: string }[];
  /** Flags that take a value (the next word is that value, not a command). */
  valueOptions: string[];
  /** It takes positional arguments (files are offered for them, unless the first has choices). */
  takesArguments: boolean;
  /** The choices of its first argument (`completion <shell>`), offered instead of files. */
  argumentChoices: string[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** The agents `--agent` offers (others, configured in settings.json, can still be typed). */
const AGENTS = ['claude', 'codex', 'gemini', 'opencode'];

const isHidden = (c: Command) => (c as unknown as { _hidden?: boolean })._hidden === true;
const argsOf = (c: Command) => (c as unknown as { registeredArguments?: { argChoices?: string[] }[] }).registeredArguments ?? [];

function optionsOf(c: Command, root: boolean): CompletionNode['options'] {
  const visible = (c.options as readonly Option[]).filter((o) => !o.hidden);
  const out: CompletionNode['options'] = [];
  for (const o of visible) for (const flag of [o.long, o.short]) if (flag) out.push({ flag, description: o.description });
  out.push({ flag: '--help', description: 'display help for command' }, { flag: '-h', description: 'display help for command' });
  if (root && !out.some((o) => o.flag === '--version')) out.push({ flag: '--version', description: 'print the hapi version' });
  return out;
}

/** The visible command tree of `program`, every command once, parents before children. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const walk = (c: Command, path: string[]) => {
    const subs = c.commands.filter((s) => !isHidden(s));
    const visible = (c.options as readonly Option[]).filter((o) => !o.hidden);
    const children = subs.map((s) => s.name());
    // The root's `help [command]` (commander keeps it outside .commands).
    if (path.length === 0) children.push('help');
    nodes.push({
      path: path.join(' '),
      description: c.description(),
      children,
      options: optionsOf(c, path.length === 0),
      valueOptions: visible.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)),
      // The root's arguments are the agent's, after `--`: files are offered there, not before.
      takesArguments: path.length > 0 && argsOf(c).length > 0 && !argsOf(c)[0]!.argChoices,
      argumentChoices: path.length > 0 ? (argsOf(c)[0]?.argChoices ?? []) : [],
    });
    for (const s of subs) walk(s, [...path, s.name()]);
  };
  walk(program, []);
  nodes.push({ path: 'help', description: 'show help for hapi or for one command', children: nodes[0]!.children.filter((n) => n !== 'help'), options: [], valueOptions: [], takesArguments: false, argumentChoices: [] });
  return nodes;
}

/** The completion script for `shell`. */
export function completionScript(program: Command, shell: string): string {
  const tree = completionTree(program);
  switch (shell) {
    case 'bash':
      return bashScript(tree);
    case 'zsh':
      return zshScript(tree);
    case 'fish':
      return fishScript(tree);
    default:
      throw new InvalidArgumentError(`unknown shell '${shell}'; one of ${SHELLS.join(', ')}`);
  }
}

/** A single-quoted shell word (bash, zsh and fish all read '...' literally; ' itself needs care). */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** `case` arms of a POSIX-style function printing one table value per command path. */
function caseArms(tree: CompletionNode[], value: (n: CompletionNode) => string): string {
  return tree.map((n) => `    ${q(n.path)}) echo ${q(value(n))} ;;`).join('\n');
}

/** The parts bash and zsh share: the tables as functions, and the walk to the current command. */
function posixTables(tree: CompletionNode[]): string {
  return `_hapi_children() {
  case "$1" in
${caseArms(tree, (n) => [...n.children, ...n.argumentChoices].join(' '))}
  esac
}
_hapi_options() {
  case "$1" in
${caseArms(tree, (n) => n.options.map((o) => o.flag).join(' '))}
  esac
}
_hapi_value_options() {
  case "$1" in
${caseArms(tree, (n) => n.valueOptions.join(' '))}
  esac
}
_hapi_takes_arguments() {
  case "$1" in
${tree.filter((n) => n.takesArguments).map((n) => `    ${q(n.path)}) return 0 ;;`).join('\n') || "    '') return 1 ;;"}
  esac
  return 1
}
# _hapi_candidates <words typed before the current one...> (not \$path: zsh ties it to PATH): what may come next, one per line,
# and the line @files when files fit too; after \`--\` (the agent's own arguments) only @files.
_hapi_candidates() {
  local cmdpath="" w skip="" prev=""
  for w in "$@"; do
    if [ -n "$skip" ]; then skip=""; prev="$w"; continue; fi
    if [ "$w" = "--" ]; then echo @files; return; fi
    case "$w" in
      -*) case " $(_hapi_value_options "$cmdpath") " in *" $w "*) skip=1 ;; esac ;;
      *) case " $(_hapi_children "$cmdpath") " in *" $w "*) cmdpath="\${cmdpath:+$cmdpath }$w" ;; esac ;;
    esac
    prev="$w"
  done
  if [ -n "$skip" ]; then
    case "$prev" in --agent) echo ${q(AGENTS.join(' '))} | tr ' ' '\\n' ;; *) echo @files ;; esac
    return
  fi
  for w in $(_hapi_children "$cmdpath") $(_hapi_options "$cmdpath"); do echo "$w"; done
  if _hapi_takes_arguments "$cmdpath"; then echo @files; fi
}
`;
}

function bashScript(tree: CompletionNode[]): string {
  return `# hapi completion for bash (generated by \`hapi completion bash\`).
# Load it now: source <(hapi completion bash)
# Or for every shell: hapi completion bash > ~/.local/share/bash-completion/completions/hapi
${posixTables(tree)}
_hapi() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" line files="" words=()
  COMPREPLY=()
  while IFS= read -r line; do
    case "$line" in
      @files) files=1 ;;
      *) words+=("$line") ;;
    esac
  done < <(_hapi_candidates "\${COMP_WORDS[@]:1:COMP_CWORD-1}")
  if [[ "$cur" != -* ]]; then
    local -a plain=()
    for line in "\${words[@]}"; do [[ "$line" == -* ]] || plain+=("$line"); done
    words=("\${plain[@]}")
  fi
  COMPREPLY=($(compgen -W "\${words[*]}" -- "$cur"))
  if [ -n "$files" ] && [[ "$cur" != -* ]]; then COMPREPLY+=($(compgen -f -- "$cur")); fi
}
complete -F _hapi hapi
`;
}

function zshScript(tree: CompletionNode[]): string {
  return `#compdef hapi
# hapi completion for zsh (generated by \`hapi completion zsh\`).
# Load it now: source <(hapi completion zsh)
# Or for every shell: hapi completion zsh > "\${fpath[1]}/_hapi" (then restart zsh)
${posixTables(tree)}
_hapi() {
  local line files="" cur="\${words[CURRENT]}"
  local -a cands
  for line in "\${(@f)$(_hapi_candidates "\${(@)words[2,CURRENT-1]}")}"; do
    case "$line" in
      @files) files=1 ;;
      -*) [[ "$cur" == -* ]] && cands+=("$line") ;;
      ?*) cands+=("$line") ;;
    esac
  done
  (( \${#cands} )) && compadd -- "\${cands[@]}"
  [[ -n "$files" && "$cur" != -* ]] && _files
  return 0
}
# Autoloaded from $fpath, this file is _hapi's body: complete now; sourced, register it.
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _hapi "$@"
elif (( $+functions[compdef] )); then
  compdef _hapi hapi
fi
`;
}

function fishScript(tree: CompletionNode[]): string {
  const lines = [
    '# hapi completion for fish (generated by `hapi completion fish`).',
    '# Load it now: hapi completion fish | source',
    '# Or for every shell: hapi completion fish > ~/.config/fish/completions/hapi.fish',
    'function __hapi_children',
    '    switch "$argv[1]"',
    ...tree.map((n) => `        case ${fq(n.path)}\n            echo ${fq(n.children.join(' '))}`),
    '    end',
    'end',
    'function __hapi_value_options',
    '    switch "$argv[1]"',
    ...tree.map((n) => `        case ${fq(n.path)}\n            echo ${fq(n.valueOptions.join(' '))}`),
    '    end',
    'end',
    '# The command path of the words typed so far; "--" once the agent\'s arguments begin.',
    'function __hapi_path',
    '    set -l cmdpath',
    '    set -l skip 0',
    '    for w in (commandline -opc)[2..-1]',
    '        if test $skip = 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        if test "$w" = "--"',
    '            echo "path:--"',
    '            return',
    '        end',
    '        if string match -q -- "-*" $w',
    '            contains -- $w (string split " " -- (__hapi_value_options "$cmdpath")); and set skip 1',
    '        else if contains -- $w (string split " " -- (__hapi_children "$cmdpath"))',
    '            set cmdpath $cmdpath $w',
    '        end',
    '    end',
    '    echo "path:$cmdpath"',
    'end',
    'complete -c hapi -e',
  ];
  for (const n of tree) {
    const cond = `-n ${fq(`test (__hapi_path) = ${fq(`path:${n.path}`)}`)}`;
    const files = n.takesArguments ? '' : ' -f';
    for (const choice of n.argumentChoices) lines.push(`complete -c hapi -f ${cond} -a ${fq(choice)}`);
    for (const child of n.children) {
      const desc = tree.find((t) => t.path === (n.path ? `${n.path} ${child}` : child))?.description ?? '';
      lines.push(`complete -c hapi${files} ${cond} -a ${fq(child)} -d ${fq(desc)}`);
    }
    for (const o of n.options) {
      const flag = o.flag.startsWith('--') ? `-l ${fq(o.flag.slice(2))}` : `-s ${fq(o.flag.slice(1))}`;
      const value = n.valueOptions.includes(o.flag) ? (o.flag === '--agent' ? ` -x -a ${fq(AGENTS.join(' '))}` : ' -r') : '';
      lines.push(`complete -c hapi${files} ${cond} ${flag}${value} -d ${fq(o.description)}`);
    }
    if (!n.takesArguments && n.children.length === 0 && n.options.length === 0) lines.push(`complete -c hapi -f ${cond}`);
  }
  return `${lines.join('\n')}\n`;
}
