/**
 * Every key path of a zod (v4) schema: `listen.tls.cert`, `upstreams[bedrock].auth.aws_bearer_token`.
 * Records and scalars are leaves; objects contribute their own path and their keys'.
 */
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

export function schemaKeyPaths(schema: z.ZodType, prefix = ''): string[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
      return schemaKeyPaths(def.innerType!, prefix);
    case 'pipe':
      return schemaKeyPaths(def.in!, prefix);
    case 'array':
      return schemaKeyPaths(def.element!, `${prefix}[]`);
    case 'union': {
      const out = new Set<string>();
      for (const o of def.options!) {
        const shape = defOf(o).shape;
        const provider = shape?.provider ?? shape?.type;
        const lit = provider ? (defOf(provider) as unknown as { values: unknown[] }).values?.[0] : undefined;
        const p = lit !== undefined && prefix.endsWith('[]') ? `${prefix.slice(0, -2)}[${String(lit)}]` : prefix;
        for (const k of schemaKeyPaths(o, p)) out.add(k);
      }
      return [...out];
    }
    case 'object':
      return Object.entries(def.shape!).flatMap(([k, v]) => {
        const path = prefix ? `${prefix}.${k}` : k;
        const inner = schemaKeyPaths(v, path);
        return [path, ...inner.filter((p) => p !== path)];
      });
    default:
      return [];
  }
}
