/** Linear warm-up then cosine decay to minFrac·lr (the usual GPT recipe). */
export function cosineLr(step: number, total: number, lr: number, warmup: number, minFrac: number): number {
  if (step < warmup) return lr * (step + 1) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return lr * (minFrac + (1 - minFrac) * 0.5 * (1 + Math.cos(Math.PI * t)));
}
