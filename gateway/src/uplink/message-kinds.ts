/**
 * What the publisher does with each kind of outbox row: one table, one line
 * per kind. Stored payloads carry `imageRef` (a path in the image store);
 * kinds that travel with their image get it attached at send time.
 */
export interface MessageKind {
  /** Replace the stored `imageRef` with an `image` object (inline, reference or missing). */
  attachesImage: boolean;
  /** The payload field holding the inspection id the image URL points at. */
  inspectionIdField: string;
}

export const messageKinds: Readonly<Record<string, MessageKind>> = {
  correction: { attachesImage: true, inspectionIdField: 'inspectionId' },
  inspection: { attachesImage: true, inspectionIdField: 'inspectionId' },
};

/** A row queued by a newer gateway under a kind this one does not know: sent as stored, minus local paths. */
export const unknownKind: MessageKind = { attachesImage: false, inspectionIdField: 'inspectionId' };
