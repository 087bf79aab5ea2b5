// Checks a job as Nomad returns it against what was submitted (the seed's step "Check job
// definition from HTTP API"): Nomad >= 1.10 accepts max_client_disconnect and silently drops it. Pure.
import type { NomadJob } from '../nomad/api.ts';

/** Whether a job as Nomad returns it still carries the disconnect setting that was submitted. */
export function disconnectSettingDropped(submitted: NomadJob, readBack: NomadJob): string[] {
  const problems: string[] = [];
  for (const tg of submitted.TaskGroups) {
    const back = readBack.TaskGroups.find((g) => g.Name === tg.Name);
    if (tg.MaxClientDisconnect && !back?.MaxClientDisconnect)
      problems.push(`group ${tg.Name}: submitted MaxClientDisconnect=${tg.MaxClientDisconnect}, read back ${back?.MaxClientDisconnect ?? 'nothing'}`);
    if (tg.Disconnect?.LostAfter && !back?.Disconnect?.LostAfter)
      problems.push(`group ${tg.Name}: submitted Disconnect.LostAfter=${tg.Disconnect.LostAfter}, read back ${back?.Disconnect?.LostAfter ?? 'nothing'}`);
  }
  return problems;
}
