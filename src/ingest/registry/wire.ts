/**
 * The Confluent wire format: byte 0 (the "magic byte"), the schema id as a 4-byte
 * big-endian unsigned integer, then the body (JSON text for a JSON Schema, Avro binary
 * for an Avro schema). Plain JSON never starts with byte 0, so one look at the first
 * byte tells the two apart.
 */
export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** True when the value claims the wire format (its first byte is 0). */
export const isFramed = (value: Buffer): boolean => value.length > 0 && value[0] === MAGIC_BYTE;

/** A framed value: header + body. */
export function frame(schemaId: number, body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const out = Buffer.allocUnsafe(HEADER_BYTES + bytes.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  bytes.copy(out, HEADER_BYTES);
  return out;
}

/** The schema id and body of a framed value, or null when it is too short to hold a header. */
export function readFrame(value: Buffer): { schemaId: number; body: Buffer } | null {
  if (value.length < HEADER_BYTES || value[0] !== MAGIC_BYTE) return null;
  return { schemaId: value.readUInt32BE(1), body: value.subarray(HEADER_BYTES) };
}
