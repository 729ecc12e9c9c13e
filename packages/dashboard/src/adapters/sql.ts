/** The one thing the adapters need from @cloister/storage (PGlite or PostgreSQL), typed structurally. */
export interface SqlQueryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly (string | number | boolean | null | Date | Uint8Array | readonly string[])[]): Promise<{ readonly rows: Row[] }>;
}

export function iso(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** jsonb arrives parsed from PGlite and pg; a text column holding JSON is parsed here. */
export function json(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}
