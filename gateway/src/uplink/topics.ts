/**
 * The topic tree, in one place (docs/uplink.md):
 *
 *   <root>/v1/<site>/<line>/<station>/correction   operator decisions (QoS 1, from the outbox)
 *   <root>/v1/<site>/<line>/<station>/inspection   sampled inspections (QoS 1, from the outbox)
 *   <root>/v1/<site>/<line>/<station>/model        model packages for the station (QoS 1, received; model-delivery.ts)
 *   <root>/v1/<site>/<line>/<gatewayId>/status     retained online/offline, Last Will offline
 *   <root>/v1/<site>/<line>/<gatewayId>/metrics    periodic counters (QoS 0)
 *
 * `v1` is the topic layout's version: a consumer subscribed to v1 never sees
 * a layout it does not know. Payload versions are separate (`schemaVersion`).
 */

/** Message kinds that travel per station (`model` travels to the gateway, the others from it). */
export type StationKind = 'correction' | 'inspection' | 'model';
/** Message kinds that travel per gateway. */
export type GatewayKind = 'status' | 'metrics';

export const TOPIC_LAYOUT_VERSION = 'v1';

export interface TopicOrigin {
  root: string;
  site: string;
  line: string;
}

export function stationTopic(o: TopicOrigin, station: string, kind: StationKind | string): string {
  return `${o.root}/${TOPIC_LAYOUT_VERSION}/${o.site}/${o.line}/${station}/${kind}`;
}

export function gatewayTopic(o: TopicOrigin, gatewayId: string, kind: GatewayKind): string {
  return `${o.root}/${TOPIC_LAYOUT_VERSION}/${o.site}/${o.line}/${gatewayId}/${kind}`;
}

/** Filter for one kind; `+` in site, line or station matches every one. */
export function kindFilter(root: string, f: { site: string; line: string; station: string }, kind: StationKind): string {
  return `${root}/${TOPIC_LAYOUT_VERSION}/${f.site}/${f.line}/${f.station}/${kind}`;
}

/** MQTT 5 shared subscription: members of `group` split the messages of `filter` between them. */
export function sharedFilter(group: string | null, filter: string): string {
  return group === null ? filter : `$share/${group}/${filter}`;
}
