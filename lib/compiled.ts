// What a compiled entry (build.mjs, dist/) registers before its script runs: which
// source file is the script, and the step modules, since a bundle has no runbook/
// directory of .ts files to read. Undefined when the sources run directly (tsx, tests).
export interface Compiled {
  /** Source file URL of the script being run. */
  main: string;
  /** runbook/NN-*.ts file name -> the bundled module. */
  steps: Record<string, () => Promise<unknown>>;
}

export const compiled = (globalThis as Record<symbol, Compiled | undefined>)[Symbol.for('vault-irsa-runbook.compiled')];
