/** A second process opening an embedded data folder another live gateway holds. */
export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(
      `the embedded database in ${dataDir} is already in use by process ${pid}. ` +
        'Stop that gateway first, or give this one its own folder (store.data_dir), or set store.postgres_url to share a real PostgreSQL server.',
    );
    this.name = 'DataDirLockedError';
  }
}
