// What the lab lifecycle needs to know to run one server process: how to start it
// and how to tell it is ready. Producers (lab/lib/k8s.ts k8sServices) describe
// processes; whoever starts them (the lab lifecycle, or a test) owns spawning,
// logs, pid files and stopping.

export interface ReadyUrl {
  /** Polled with GET until it answers one of `codes`. */
  url: string;
  /** PEM file of the CA that signed the server's certificate (https URLs). */
  ca?: string;
  /** Status codes that mean ready (default [200]). */
  codes?: number[];
}

export interface ServiceSpec {
  /** Short name: log and pid files are named after it. */
  name: string;
  /** Absolute path of the executable. */
  command: string;
  args: string[];
  /** Added to the lab's environment for this process. */
  env?: Record<string, string>;
  /** A URL to poll, or a check that resolves true once the service is ready. */
  ready: ReadyUrl | (() => Promise<boolean>);
}
