import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ZipArchive, type Archiver, type ZipEntryData } from 'archiver';
import type { Logger } from 'pino';
import { LoupeError } from '../errors.js';
import type { Bucketer } from '../stats/buckets.js';
import type { ZonedClock } from '../stats/zoned-clock.js';
import type { ImageStore } from '../store/images.js';
import { ExportReader, type InspectionFilter, type SortOrder } from '../store/queries.js';
import { csvHeader, csvLine, type CsvOptions } from './csv.js';
import { LineStream } from './line-stream.js';
import { imageFileOf, toExportRecord } from './record.js';

/** Most inspections one ZIP may hold (its central directory stays in memory until the end). */
export const MAX_ZIP_ROWS = 100_000;

/** What an export reads from: the database file (opened read-only per export), the images, the plant's clock. */
export interface ExportSource {
  dbFile: string;
  images: ImageStore;
  clock: ZonedClock;
  bucketer: Bucketer;
  log: Logger;
}

/** An export under way: how many rows it will hold (counted in the same snapshot), and its bytes. */
export interface StartedExport {
  rows: number;
  stream: Readable;
}

function withReader<T>(src: ExportSource, use: (reader: ExportReader) => T): T {
  const reader = new ExportReader(src.dbFile);
  try {
    return use(reader);
  } catch (err) {
    reader.close();
    throw err;
  }
}

function* csvLines(src: ExportSource, reader: ExportReader, filter: InspectionFilter, o: CsvOptions & { order: SortOrder }): Generator<string> {
  yield csvHeader(o);
  for (const row of reader.rows(filter, o.order)) yield csvLine(toExportRecord(row, src.clock, src.bucketer), o);
}

/** CSV, streamed row by row from one snapshot. */
export function exportCsv(src: ExportSource, filter: InspectionFilter, o: CsvOptions & { order: SortOrder }): StartedExport {
  return withReader(src, (reader) => ({ rows: reader.count(filter), stream: new LineStream(csvLines(src, reader, filter, o), () => reader.close()) }));
}

/** One JSON object per line (the CSV's fields, with findings as JSON), streamed from one snapshot. */
export function exportNdjson(src: ExportSource, filter: InspectionFilter, o: { order: SortOrder }): StartedExport {
  return withReader(src, (reader) => {
    function* lines(): Generator<string> {
      for (const row of reader.rows(filter, o.order)) yield `${JSON.stringify(toExportRecord(row, src.clock, src.bucketer))}\n`;
    }
    return { rows: reader.count(filter), stream: new LineStream(lines(), () => reader.close()) };
  });
}

/**
 * A ZIP for a supplier or a labelling tool: `inspections.csv` (its
 * `imageFile` column names each image's path inside the ZIP), the images under
 * `images/`, and `export.json` (the filter, counts, images missing because
 * retention pruned them). Entries are added one at a time as the client
 * reads, images stored as they are (JPEG does not compress further).
 * Memory stays flat apart from the ZIP central directory, which a ZIP writer
 * keeps until the end (about half a kilobyte per entry here): hence the cap
 * of MAX_ZIP_ROWS per export.
 */
export function exportZip(src: ExportSource, filter: InspectionFilter, o: CsvOptions & { order: SortOrder; description: Record<string, unknown> }): StartedExport {
  return withReader(src, (reader) => {
    const rows = reader.count(filter);
    if (rows > MAX_ZIP_ROWS) {
      throw new LoupeError('LOUPE_ERR_EXPORT_TOO_LARGE', `${rows} inspections match, a ZIP takes at most ${MAX_ZIP_ROWS}: narrow the filter (time range, verdict, class) or export CSV or NDJSON`, {
        details: { rows, max: MAX_ZIP_ROWS },
      });
    }
    const archive = new ZipArchive({ zlib: { level: 6 } });
    const open_: FileHandle[] = [];
    // Set inside fill(); declared wide so the clean-up below sees it may be set.
    let csv = null as LineStream | null;
    const fill = async () => {
      const entries = new EntryWindow(archive, 1);
      csv = new LineStream(csvLines(src, reader, filter, o), () => undefined);
      await entries.add(csv, { name: 'inspections.csv' });
      // The CSV's rows are read before the images' start: one iterator at a time on the reader.
      await entries.drained();
      entries.max = IMAGES_IN_FLIGHT;
      let images = 0;
      const missing: string[] = [];
      for (const row of reader.rows(filter, o.order)) {
        const ref = row.inspection.imageRef;
        if (ref === null) continue;
        let fh: FileHandle;
        try {
          fh = await open(src.images.path(ref), 'r');
        } catch {
          // Pruned by retention after the row was read: say so rather than fail the whole export.
          missing.push(row.inspection.id);
          continue;
        }
        open_.push(fh);
        const stream = fh.createReadStream();
        stream.once('close', () => open_.splice(open_.indexOf(fh), 1));
        await entries.add(stream, { name: imageFileOf(ref) ?? ref, store: true, date: row.inspection.triggeredAt });
        images++;
      }
      await entries.drained();
      const summary = { generatedAt: src.clock.iso(Date.now()), timeZone: src.clock.timeZone, rows, images, missingImages: missing.length, missingImageIds: missing.slice(0, 1000), ...o.description };
      archive.append(`${JSON.stringify(summary, null, 2)}\n`, { name: 'export.json' });
      await archive.finalize();
    };
    fill()
      .catch((err: unknown) => {
        if (!archive.destroyed) {
          src.log.error({ err }, 'ZIP export failed');
          archive.destroy(err as Error);
        }
      })
      .finally(() => {
        for (const fh of open_) void fh.close().catch(() => undefined);
        // A client gone during the CSV part leaves it unread: stop its row iterator before the reader closes.
        csv?.destroy();
        try {
          reader.close();
        } catch (err) {
          src.log.warn({ err }, 'closing a ZIP export\'s reader failed');
        }
      });
    return { rows, stream: archive as unknown as Readable };
  });
}

/** Images queued in the archive at once: enough to keep it busy, few enough to keep memory and file handles flat. */
const IMAGES_IN_FLIGHT = 8;

/**
 * Entries handed to the archive but not yet written, at most `max` of them:
 * `add` waits while the window is full, so a slow client slows the reading of
 * rows and files instead of piling them up.
 */
class EntryWindow {
  private pending = 0;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly archive: Archiver,
    public max: number,
  ) {
    archive.on('entry', () => {
      this.pending--;
      this.poke();
    });
    archive.on('error', (err: Error) => this.fail(err));
    archive.on('close', () => this.fail(new Error('export stream closed (client went away)')));
  }

  async add(source: Readable, data: ZipEntryData): Promise<void> {
    await this.until(() => this.pending < this.max);
    this.pending++;
    this.archive.append(source, data);
  }

  drained(): Promise<void> {
    return this.until(() => this.pending === 0);
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.failed) throw this.failed;
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
