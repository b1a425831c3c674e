/** An Avro schema of the event as an outside producer would write it: optional fields as ["null", T], amounts as strings. */
export function avroEventSchema(namespace: string, extra: object[] = []) {
  return {
    type: 'record',
    name: 'BusinessEvent',
    namespace,
    fields: [
      { name: 'eventId', type: ['null', 'string'], default: null },
      { name: 'eventType', type: 'string' },
      { name: 'userId', type: 'string' },
      { name: 'tenantId', type: 'string' },
      { name: 'amount', type: ['null', 'string'], default: null },
      { name: 'currency', type: 'string' },
      { name: 'traceId', type: 'string' },
      { name: 'timestamp', type: 'long' },
      ...extra,
    ],
  };
}
