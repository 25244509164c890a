// The lab's command line, behind the thin lab/bin/<verb> scripts:
//   up | down | status | reset | env | install | images | sa-token <ns> <sa> [--cluster C] [--ttl S] [--out F]
//   break [<scenario>] [--show|--hint [N]|--answer|--apply-answer] | seat <N> [--dir D]
// Expected problems print one sentence and exit 1 (bad input to `break` and `seat`:
// an unknown scenario or seat, a malformed scenario file, a wrong option: exit 2);
// anything else is a bug (stack, exit 70).
// The lifecycle, the install and the scenarios (and the AWS SDK, node-vault and yaml
// under them) are loaded by the verbs that use them: `env`, `seat` and `sa-token`,
// which make lab, make bench and every step-12 run start, load none of them.
import { printEnv } from './env.js';
import { LabError, readSettings } from './settings.js';
import { saToken } from './sa-token.js';
import { runVerb } from './verb.js';
import { seatLines } from './seat.js';

const verb = process.argv[2] ?? '';
const args = process.argv.slice(3);
const prog = process.env.LAB_PROG ?? verb;
const log = (l: string) => console.log(l);

// `lab/bin/env | head` closes the pipe early; that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));

async function main(): Promise<number> {
  const st = readSettings();
  switch (verb) {
    case 'up':
      await (await import('./lifecycle.js')).up(st, log);
      return 0;
    case 'down':
      await (await import('./lifecycle.js')).down(st, log);
      return 0;
    case 'status':
      return (await (await import('./lifecycle.js')).status(st, log)) ? 0 : 1;
    case 'reset':
      await (await import('./lifecycle.js')).reset(st, log);
      return 0;
    case 'env':
      printEnv(st.dir);
      return 0;
    case 'install':
      await (await import('./install.js')).install(st.root, st.cache, log, { vaultCli: st.vaultCli, awsCli: st.awsCli, k8s: st.k8s });
      return 0;
    case 'images': {
      // LAB_IMAGES=local images, built from the process lab's tools (lab/lib/images.ts).
      const built = await (await import('./images.js')).buildImages(st.root, st.cache, log);
      for (const b of built) log(`images: ${b.name.padEnd(5)} ${b.tag}${b.built ? '' : ' (already built)'}`);
      log('images: use them with LAB_MODE=docker LAB_IMAGES=local');
      return 0;
    }
    case 'sa-token':
      await saToken(args);
      return 0;
    case 'break':
      return (await import('./break.js')).breakCommand(args, st, log);
    case 'seat':
      process.stdout.write(seatLines(args).join('\n') + '\n');
      return 0;
    default:
      throw new LabError(`unknown lab command "${verb}": use up, down, status, reset, env, install, images, sa-token, break or seat`);
  }
}

await runVerb(prog, main);
