import { performance } from 'node:perf_hooks';
import { openPostgres } from '../gateway-server/src/store/postgres';
import { buildReport } from '../gateway-server/src/console/reports-routes';
import { reportSegments, reportSql } from '../gateway-server/src/console/reports';
const db = await openPostgres({ url: 'postgresql://postgres@127.0.0.1:5432/wt18scale_dev' } as never);
const day = (d: number) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
const cases: [string, any, string[]?][] = [
  ['model day 30 UTC', { from: day(-29), to: day(1), tz: 'UTC', group_by: 'model', bucket: 'day' }],
  ['upstream none 30 UTC', { from: day(-29), to: day(1), tz: 'UTC', group_by: 'upstream', bucket: 'none' }],
  ['user none 30 UTC', { from: day(-29), to: day(1), tz: 'UTC', group_by: 'user', bucket: 'none' }],
  ['group day 90 Kolkata', { from: day(-89), to: day(1), tz: 'Asia/Kolkata', group_by: 'group', bucket: 'day' }],
  ['user none 90 Kolkata', { from: day(-89), to: day(1), tz: 'Asia/Kolkata', group_by: 'user', bucket: 'none' }],
  ['user day 30 top7', { from: day(-29), to: day(1), tz: 'UTC', group_by: 'user', bucket: 'day' }, ['user1', 'user2', 'user3', 'user4', 'user5', 'user6', 'user7']],
  ['user day 31 Berlin', { from: day(-30), to: day(1), tz: 'Europe/Berlin', group_by: 'user', bucket: 'day' }],
];
for (const [name, q, keys] of cases) {
  const times: number[] = [];
  let n = 0;
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    const r = await buildReport(db, 'usage', q, keys);
    times.push(performance.now() - t);
    n = r.data.length;
  }
  const segs = await reportSegments(db, q, new Date(q.from), new Date(q.to));
  console.log(name.padEnd(24), times.map((x) => x.toFixed(0)).join(' '), 'rows', n, 'segs', segs.length);
}
await db.close();
