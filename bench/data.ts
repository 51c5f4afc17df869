/**
 * The benchmark's shared data: the fields every export reads and the upsert CSV every import writes, so
 * forceflow and its peers (bench/peers/) do the same work.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const OBJECT = 'Invoice__c';
/** The import's external id field. */
export const EXTERNAL_ID = 'External_Id__c';
/** Columns of the import CSV: the external id and 14 writable fields of every type Invoice__c has (no lookups). */
export const IMPORT_FIELDS = [
  'External_Id__c', 'Name', 'Amount__c', 'Tax_Rate__c', 'Exchange_Rate__c', 'Line_Count__c', 'Invoice_Date__c', 'Paid_At__c',
  'Reminder_Time__c', 'Is_Paid__c', 'Status__c', 'Tags__c', 'Notes__c', 'Billing_Email__c', 'Portal_Url__c',
] as const;

/** A quoted CSV value (every value is quoted, `"` doubled). */
const q = (v: string): string => `"${v.replace(/"/g, '""')}"`;

/**
 * Write the upsert CSV of `records` rows: row i (1-based) keys on `GEN-<i>` for even i (a generated record of
 * the emulator's `--generate Invoice__c=<records>`: an update) and `BENCH-<i>` for odd i (a new record).
 * Deterministic; every value valid, so every row succeeds.
 */
export async function writeImportCsv(path: string, records: number): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`${IMPORT_FIELDS.join(',')}\n`);
  const statuses = ['Draft', 'Sent', 'Paid', 'Overdue', 'Void'];
  let chunk = '';
  for (let i = 1; i <= records; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    const cells = [
      i % 2 === 0 ? `GEN-${i}` : `BENCH-${i}`,
      `Invoice ${i}`,
      ((i % 100_000) / 4).toFixed(2),
      String(i % 25),
      (1 + (i % 1000) / 1000).toFixed(6),
      String(i % 40),
      `2024-03-${day}`,
      `2024-03-${day}T10:${String(i % 60).padStart(2, '0')}:00.000Z`,
      `09:${String(i % 60).padStart(2, '0')}:00.000Z`,
      i % 3 === 0 ? 'true' : 'false',
      statuses[i % statuses.length] as string,
      i % 4 === 0 ? 'Priority;Recurring' : 'Export',
      i % 10 === 0 ? `Note for "invoice" ${i},\nsecond line` : `Note ${i}`,
      `billing${i}@example.com`,
      `https://portal.example.com/invoices/${i}`,
    ];
    chunk += `${cells.map(q).join(',')}\n`;
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await once(out, 'finish');
  return bytes;
}

/** The export's SOQL: every field of the object but compound ones (what forceflow's Bulk source reads). */
export async function exportSoql(instanceUrl: string, accessToken: string, version = '60.0'): Promise<string> {
  const res = await fetch(`${instanceUrl}/services/data/v${version}/sobjects/${OBJECT}/describe`, { headers: { Authorization: `Bearer ${accessToken}` } });
  if (!res.ok) throw new Error(`describe ${OBJECT}: HTTP ${res.status}`);
  const d = (await res.json()) as { fields: Array<{ name: string; type: string }> };
  return `SELECT ${d.fields.filter((f) => f.type !== 'location' && f.type !== 'address').map((f) => f.name).join(', ')} FROM ${OBJECT}`;
}
