import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ZipArchive, type Archiver, type ZipEntryData } from 'archiver';
import type { Logger } from 'pino';
import type { Bucketer } from '../stats/buckets.js';
import type { ZonedClock } from '../stats/zoned-clock.js';
import type { ImageStore } from '../store/images.js';
import { ExportReader, type InspectionFilter, type SortOrder } from '../store/queries.js';
import { csvHeader, csvLine, type CsvOptions } from './csv.js';
import { LineStream } from './line-stream.js';
import { imageFileOf, toExportRecord } from './record.js';

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
 * Memory stays flat apart from the ZIP central directory, which every ZIP
 * writer keeps until the end (about 100 bytes per entry).
 */
export function exportZip(src: ExportSource, filter: InspectionFilter, o: CsvOptions & { order: SortOrder; description: Record<string, unknown> }): StartedExport {
  return withReader(src, (reader) => {
    const rows = reader.count(filter);
    const archive = new ZipArchive({ zlib: { level: 6 } });
    let current: FileHandle | null = null;
    const fill = async () => {
      await addEntry(archive, new LineStream(csvLines(src, reader, filter, o), () => undefined), { name: 'inspections.csv' });
      let images = 0;
      const missing: string[] = [];
      for (const row of reader.rows(filter, o.order)) {
        const ref = row.inspection.imageRef;
        if (ref === null) continue;
        try {
          current = await open(src.images.path(ref), 'r');
        } catch {
          // Pruned by retention after the row was read: say so rather than fail the whole export.
          missing.push(row.inspection.id);
          continue;
        }
        await addEntry(archive, current.createReadStream(), { name: imageFileOf(ref) ?? ref, store: true, date: row.inspection.triggeredAt });
        current = null;
        images++;
      }
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
        void current?.close().catch(() => undefined);
        reader.close();
      });
    return { rows, stream: archive as unknown as Readable };
  });
}

/** Append one entry and wait until the archive has taken all of it (so only one source is open at a time). */
function addEntry(archive: Archiver, source: Readable | string, data: ZipEntryData): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      archive.off('entry', onEntry);
      archive.off('error', onError);
      archive.off('close', onClose);
    };
    const onEntry = (e: { name: string }) => {
      if (e.name !== data.name) return;
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      if (typeof source !== 'string') source.destroy();
      reject(new Error('export stream closed (client went away)'));
    };
    archive.on('entry', onEntry);
    archive.on('error', onError);
    archive.on('close', onClose);
    archive.append(source, data);
  });
}
