import type { Logger } from '../core/logger.ts';
import { startEmulator } from '../emulator/index.ts';

/** `npm run demo`: until flows exist, start the emulator and run a query through it. */
export async function demoCommand(log: Logger): Promise<void> {
  const emu = await startEmulator({ logger: log.child({ component: 'emulator' }) });
  try {
    const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/query?q=${encodeURIComponent('SELECT Id, Name FROM Account LIMIT 5')}`, {
      headers: { Authorization: `Bearer ${emu.accessToken}` },
    });
    process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
  } finally {
    await emu.close();
  }
}
