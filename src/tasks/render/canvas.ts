// A tiny software rasterizer: filled rectangles, circles and triangles.
// Pixel (x, y) is covered when its centre (x + 0.5, y + 0.5) lies inside the shape, so the
// result is exact and identical everywhere (no anti-aliasing, no floating-point drift that
// depends on the platform: only IEEE-exact additions and multiplications are used).
import type { RgbImage } from '../types.js';

export type Rgb = readonly [number, number, number];

export class Canvas {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb) {
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.data[o] = c[0];
    this.data[o + 1] = c[1];
    this.data[o + 2] = c[2];
  }

  /** Fill the integer rectangle [x, x+w) × [y, y+h), clipped to the canvas. */
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, x), y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + w), y1 = Math.min(this.height, y + h);
    const d = this.data;
    for (let yy = y0; yy < y1; yy++) {
      for (let o = (yy * this.width + x0) * 3, end = (yy * this.width + x1) * 3; o < end; o += 3) {
        d[o] = c[0];
        d[o + 1] = c[1];
        d[o + 2] = c[2];
      }
    }
  }

  /** Disc of radius r centred at (cx, cy) (continuous coordinates). */
  fillCircle(cx: number, cy: number, r: number, c: Rgb): void {
    const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(this.width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(this.height - 1, Math.ceil(cy + r));
    const r2 = r * r;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r2) this.setPixel(x, y, c);
      }
    }
  }

  /** Filled triangle with vertices (continuous coordinates), either winding. */
  fillTriangle(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, c: Rgb): void {
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx, cx))), x1 = Math.min(this.width - 1, Math.ceil(Math.max(ax, bx, cx)));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by, cy))), y1 = Math.min(this.height - 1, Math.ceil(Math.max(ay, by, cy)));
    const edge = (px: number, py: number, qx: number, qy: number, x: number, y: number) => (qx - px) * (y - py) - (qy - py) * (x - px);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5, py = y + 0.5;
        const e0 = edge(ax, ay, bx, by, px, py), e1 = edge(bx, by, cx, cy, px, py), e2 = edge(cx, cy, ax, ay, px, py);
        if ((e0 >= 0 && e1 >= 0 && e2 >= 0) || (e0 <= 0 && e1 <= 0 && e2 <= 0)) this.setPixel(x, y, c);
      }
    }
  }

  toImage(): RgbImage {
    return { width: this.width, height: this.height, data: this.data };
  }
}
