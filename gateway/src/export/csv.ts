import { EXPORT_COLUMNS, TEXT_COLUMNS, type ExportRecord } from './record.js';

export interface CsvOptions {
  /** Field separator: `,` (RFC 4180) or `;` (what Excel expects where the decimal mark is a comma). */
  delimiter: ',' | ';';
  /** Start with a UTF-8 byte order mark, so Excel reads umlauts and accents right. */
  bom: boolean;
  /**
   * Prefix text cells that start with = + - @ or a tab/CR with a single quote,
   * so a spreadsheet shows them instead of running them as formulas (a part id
   * or an operator note is text anyone could have typed). Numbers are never touched.
   */
  guardFormulas: boolean;
}

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell, RFC 4180: quoted when it holds the delimiter, a quote, CR or LF; quotes doubled. */
export function csvCell(value: unknown, delimiter: string, guard: boolean): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'string') text = guard && FORMULA_START.test(value) ? `'${value}` : value;
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else text = JSON.stringify(value);
  return text.includes(delimiter) || text.includes('"') || text.includes('\n') || text.includes('\r') ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(o: CsvOptions): string {
  return (o.bom ? '\uFEFF' : '') + EXPORT_COLUMNS.join(o.delimiter) + '\r\n';
}

/** One record as a CSV line ending in CRLF. */
export function csvLine(r: ExportRecord, o: CsvOptions): string {
  return EXPORT_COLUMNS.map((c) => csvCell(r[c], o.delimiter, o.guardFormulas && TEXT_COLUMNS.has(c))).join(o.delimiter) + '\r\n';
}
