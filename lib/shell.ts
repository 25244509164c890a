// Builders for the manual commands the runbook prints. Pure functions: the
// same builder serves the copy-paste reference (shell variables) and dry-run
// (real values), so the two cannot drift apart.

/** Quote for POSIX sh unless the word is plainly safe. Words holding $VAR references stay double-quoted so they expand. */
export function q(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  if (/\$\{?[A-Z_][A-Z0-9_]*\}?/.test(word) && !/["\\`]/.test(word.replace(/\$\{?[A-Z_][A-Z0-9_]*\}?/g, ''))) {
    return `"${word}"`;
  }
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command from words, continued over lines when long. */
export function cmd(...words: (string | false | undefined)[]): string {
  const parts = words.filter((w): w is string => typeof w === 'string' && w !== '').map(q);
  const one = parts.join(' ');
  if (one.length <= 100) return one;
  // Keep each flag together with its value on one continued line.
  const lines: string[] = [];
  let cur = '';
  for (const p of parts) {
    if (cur && p.startsWith('-')) {
      lines.push(cur);
      cur = p;
    } else cur = cur ? `${cur} ${p}` : p;
  }
  lines.push(cur);
  return lines.join(' \\\n    ');
}

/** A raw line that is already shell (an export with command substitution, a comment). */
export function raw(text: string): string {
  return text;
}

/**
 * `NAME=$(command) && export NAME`: unlike `export NAME=$(command)`, whose status is
 * export's (0), a failing command fails the line, so a pasted block stops being "fine".
 */
export function exportFrom(name: string, command: string): string {
  return `${name}=$(${command}) && export ${name}`;
}

/** Write a file with a heredoc; unquoted delimiter so $VARS expand, as in the guide. */
export function heredoc(file: string, body: string): string {
  return `cat > ${q(file)} <<EOF\n${body.replace(/\n$/, '')}\nEOF`;
}

/** `kubectl exec -n vault vault-0 -- vault ...`: the guide's way to run the Vault CLI. */
export function vaultCli(ns: string, ...words: string[]): string {
  return cmd('kubectl', 'exec', '-n', ns, 'vault-0', '--', 'vault', ...words);
}
