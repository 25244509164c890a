// A record of every call to AWS and Vault, so tests and benchmarks can count
// them (a second run must make no mutating call) and dry-run can be proven
// write-free.
export interface Call {
  service: string; // 'iam', 'sts', 'eks', 'vault'
  action: string; // 'CreateRole', 'PUT sys/policies/acl/dev'
  mutating: boolean;
}

const calls: Call[] = [];

export function recordCall(call: Call): void {
  calls.push(call);
}

export function callLog(): readonly Call[] {
  return calls;
}

export function resetCalls(): void {
  calls.length = 0;
}

export function mutatingCalls(): Call[] {
  return calls.filter((c) => c.mutating);
}
