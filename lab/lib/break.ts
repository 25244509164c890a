// The `break` verb of the lab CLI (lab/bin/break, `make lab-break`): lists the
// workshop scenarios, breaks the running lab into one, and gives participants the
// symptom, the hints in order and the answer (docs/WORKSHOP.md).
import { LabNotRunningError, readLabConfig, readLabEnv, type LabEnv } from './lab.js';
import type { LabSettings } from './settings.js';
import {
  ScenarioInputError,
  VERIFY_LINKS,
  activeScenario,
  clearActiveScenario,
  answerText,
  breakLab,
  describeAction,
  findScenario,
  hintText,
  labRunbookConfig,
  loadScenarios,
  participantText,
  resolveScenario,
  runAnswer,
  scenarioDirs,
  scenarioVars,
  type Scenario,
} from './scenarios.js';

const USAGE = 'usage: break [<scenario>] | break --show|--answer|--apply-answer <scenario> | break --hint <scenario> [N]';

/** The scenario with the lab's values filled in, or as written when the lab is not running. */
function forReading(s: Scenario): Scenario {
  let lab: LabEnv;
  try {
    lab = readLabEnv();
  } catch (e) {
    if (e instanceof LabNotRunningError) return s;
    throw e;
  }
  return resolveScenario(s, scenarioVars(labRunbookConfig(lab), lab));
}

function list(st: LabSettings, log: (l: string) => void): void {
  const all = [...loadScenarios(scenarioDirs()).values()];
  const last = activeScenario(st.dir);
  const w = Math.max(...all.map((s) => s.name.length), 8);
  log(`${'scenario'.padEnd(w)}  link  troubleshoot   title`);
  for (const s of all) {
    log(`${s.name.padEnd(w)}  ${String(s.failsAtLink).padEnd(4)}  ${(s.troubleshoot ?? 'unknown').padEnd(13)}  ${s.title}${s.name === last?.name ? `   <- last broken ${last.at.slice(0, 16).replace('T', ' ')} UTC` : ''}`);
  }
  log('');
  log(`link: the verify link that fails (${Object.entries(VERIFY_LINKS).map(([n, l]) => `${n} ${l}`).join(', ')}); troubleshoot: the cause make troubleshoot names (unknown: it must say it cannot explain it)`);
  log('break one (after `make lab`): make lab-break SCENARIO=<name>; reset: make lab-reset && make lab');
}

export async function breakCommand(args: string[], st: LabSettings, log: (l: string) => void): Promise<number> {
  const flags = args.filter((a) => a.startsWith('-'));
  const pos = args.filter((a) => !a.startsWith('-'));
  if (flags.length > 1) throw new ScenarioInputError(`one option at a time: ${USAGE}`);
  const flag = flags[0];
  if (flag && !['--show', '--hint', '--answer', '--apply-answer', '--list'].includes(flag)) throw new ScenarioInputError(`unknown option ${flag}: ${USAGE}`);

  if (flag === '--list' || (!flag && pos.length === 0)) {
    if (pos.length) throw new ScenarioInputError(USAGE);
    list(st, log);
    return 0;
  }
  const name = pos[0];
  if (!name) throw new ScenarioInputError(`${flag} needs a scenario name: ${USAGE}`);
  const maxPos = flag === '--hint' ? 2 : 1;
  if (pos.length > maxPos) throw new ScenarioInputError(`too many arguments: ${USAGE}`);

  switch (flag) {
    case undefined: {
      const s = await breakLab(name, { log });
      log('');
      log(participantText(s));
      return 0;
    }
    case '--show':
      log(participantText(forReading(findScenario(name))));
      return 0;
    case '--hint': {
      const raw = pos[1] ?? '1';
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < 1) throw new ScenarioInputError(`--hint takes a hint number from 1: ${USAGE}`);
      log(hintText(forReading(findScenario(name)), n));
      return 0;
    }
    case '--answer': {
      const s = forReading(findScenario(name));
      log(answerText(s));
      log('');
      log(`the break was: ${s.break.map(describeAction).join('; ')}`);
      return 0;
    }
    case '--apply-answer': {
      const scenario = findScenario(name);
      const lab = readLabEnv();
      const config = labRunbookConfig(lab);
      const s = resolveScenario(scenario, scenarioVars(config, lab));
      await runAnswer(s, lab, config, { stdio: 'inherit', vaultBin: readLabConfig().vaultBin, log });
      if (activeScenario(lab.labDir)?.name === s.name) clearActiveScenario(lab.labDir);
      log(`answer to ${s.name} applied: run make verify`);
      return 0;
    }
  }
  return 0;
}
