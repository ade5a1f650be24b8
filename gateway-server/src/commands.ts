/**
 * Subcommands of tollgate-gateway (init, check, audit verify, …). Each feature's command file
 * adds itself to this table and is imported by cli.ts.
 */
export type Subcommand = (argv: string[]) => Promise<number>;

export const SUBCOMMANDS: Record<string, Subcommand> = {};
