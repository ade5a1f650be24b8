// Draws the extension's 128x128 PNG icon (a toll gate: a post and a barrier arm) with no image
// dependency: raw RGBA rows, zlib, and the PNG chunk format. Run once; the PNG is committed.
import { deflateSync, crc32 } from 'node:zlib';
import { writeFileSync } from 'node:fs';

const N = 128;
const px = Buffer.alloc(N * (N * 4 + 1));
const set = (x, y, [r, g, b, a = 255]) => {
  const i = y * (N * 4 + 1) + 1 + x * 4;
  px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a;
};
const bg = [24, 46, 84], arm = [245, 190, 40], post = [230, 236, 245], stripe = [200, 40, 40];
for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) {
  const r = 22, inCorner = (cx, cy) => (x - cx) ** 2 + (y - cy) ** 2 > r * r;
  const out = (x < r && y < r && inCorner(r, r)) || (x >= N - r && y < r && inCorner(N - r - 1, r)) || (x < r && y >= N - r && inCorner(r, N - r - 1)) || (x >= N - r && y >= N - r && inCorner(N - r - 1, N - r - 1));
  set(x, y, out ? [0, 0, 0, 0] : bg);
}
for (let y = 40; y < 108; y++) for (let x = 22; x < 38; x++) set(x, y, post);
for (let y = 48; y < 62; y++) for (let x = 38; x < 110; x++) set(x, y, Math.floor((x - 38) / 12) % 2 ? stripe : arm);
for (let y = 104; y < 110; y++) for (let x = 14; x < 46; x++) set(x, y, post);
const chunk = (type, data) => {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0); ihdr.writeUInt32BE(N, 4); ihdr[8] = 8; ihdr[9] = 6;
writeFileSync(process.argv[2] ?? 'extension/media/icon.png', Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(px, { level: 9 })), chunk('IEND', Buffer.alloc(0))]));
