// Unit tests for the one helper every background loop runs on.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PollingLoop } from '../../src/loops/polling-loop.js';

describe('a polling loop', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs its task every interval once started', async () => {
    const task = vi.fn(() => Promise.resolve());
    const loop = new PollingLoop(task, 1000);
    await loop.start();
    await vi.advanceTimersByTimeAsync(3500);
    expect(task).toHaveBeenCalledTimes(3);
    await loop.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(task).toHaveBeenCalledTimes(3);
  });

  it('never runs its task twice at once: a run still going when the next is due is not started again', async () => {
    let finish: () => void = () => undefined;
    const task = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const loop = new PollingLoop(task, 1000);
    await loop.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(task).toHaveBeenCalledTimes(1);
    finish();
    await vi.advanceTimersByTimeAsync(1000);
    expect(task).toHaveBeenCalledTimes(2);
    finish();
    await loop.stop();
  });

  it('waits in stop() for the run under way', async () => {
    let finished = false;
    const loop = new PollingLoop(async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      finished = true;
    }, 1000);
    await loop.start();
    await vi.advanceTimersByTimeAsync(1000);
    const stopped = loop.stop();
    await vi.advanceTimersByTimeAsync(500);
    await stopped;
    expect(finished).toBe(true);
  });

  it('fails to start when its first run fails, and keeps going after a failed run later', async () => {
    const failing = new PollingLoop(() => Promise.reject(new Error('no Redis')), 1000);
    await expect(failing.start({ runFirst: true })).rejects.toThrow('no Redis');

    const errors: unknown[] = [];
    let calls = 0;
    const loop = new PollingLoop(
      () => (++calls === 2 ? Promise.reject(new Error('once')) : Promise.resolve()),
      1000,
      (error) => errors.push(error),
    );
    await loop.start({ runFirst: true });
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls).toBe(4);
    expect(errors).toEqual([new Error('once')]);
    await loop.stop();
  });
});
