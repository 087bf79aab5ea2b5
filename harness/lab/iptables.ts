// Pure helpers for iptables rule specs as `iptables -S` prints them.

/** Splits one `iptables -S` line into argv tokens (double-quoted strings kept whole). */
export function tokenizeRule(line: string): string[] {
  const tokens: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    tokens.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  }
  return tokens;
}

export interface Rule {
  chain: string;
  /** Rule spec after the chain name, as argv. */
  spec: string[];
  line: string;
}

/** The appended rules (-A lines) of an `iptables -S` listing. Policies and chain creations are skipped. */
export function parseRules(listing: string): Rule[] {
  const rules: Rule[] = [];
  for (const line of listing.split('\n')) {
    const t = tokenizeRule(line.trim());
    if (t[0] === '-A' && t[1]) rules.push({ chain: t[1], spec: t.slice(2), line: line.trim() });
  }
  return rules;
}

/** The comment of a rule (`-m comment --comment X`), if any. */
export function ruleComment(rule: Rule): string | undefined {
  const i = rule.spec.indexOf('--comment');
  return i >= 0 ? rule.spec[i + 1] : undefined;
}

/** argv that deletes `rule` (iptables -D <chain> <spec>). */
export function deleteArgv(rule: Rule, table = 'filter'): string[] {
  return ['iptables', '-w', '-t', table, '-D', rule.chain, ...rule.spec];
}

/** The policy of a built-in chain from `iptables -S <chain>` ("-P FORWARD DROP"). */
export function chainPolicy(listing: string, chain: string): string | undefined {
  return new RegExp(`^-P ${chain} (\\w+)`, 'm').exec(listing)?.[1];
}

/**
 * The DROP rules for the given servers present in the host's INPUT (from them) and OUTPUT (to them)
 * chains. A rule that drops only some packets (`-m statistic`: a link profile's loss) is no partition.
 */
export function partitionRulesIn(listing: string, serverIps: string[]): string[] {
  const names = (ip: string, flag: string) => [`${flag} ${ip}/32 `, `${flag} ${ip} `];
  return parseRules(listing)
    .filter((r) => r.spec.includes('DROP') && !r.spec.includes('statistic'))
    .filter((r) =>
      serverIps.some((ip) => (r.chain === 'INPUT' ? names(ip, '-s') : r.chain === 'OUTPUT' ? names(ip, '-d') : []).some((n) => `${r.line} `.includes(n))),
    )
    .map((r) => r.line);
}
