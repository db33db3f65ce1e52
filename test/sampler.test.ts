/** The sampler's own health metrics. */
import { Exposition } from '../src/exposition';
import { Logger } from '../src/log';
import { Sampler } from '../src/sampler';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function loopDelay(e: Exposition): Promise<number> {
  return (await e.values('mountstorm_event_loop_delay_p99_seconds'))?.[0]?.value ?? NaN;
}

test('event-loop delay: about 0 on an idle loop, and the length of a block of the loop', async () => {
  const e = new Exposition();
  const sampler = new Sampler([], e, new Logger('error'), 60_000, 1000);
  try {
    await sleep(500);
    await sampler.sampleOnce();
    const idle = await loopDelay(e);
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThan(0.05);
    // Block the loop for 400 ms: the timer's tick comes that much late.
    const until = Date.now() + 400;
    while (Date.now() < until);
    await sleep(250);
    await sampler.sampleOnce();
    const blocked = await loopDelay(e);
    expect(blocked).toBeGreaterThan(0.25);
    expect(blocked).toBeLessThan(0.6);
    // Each sample reports its own interval: the block is gone from the next one.
    await sleep(500);
    await sampler.sampleOnce();
    expect(await loopDelay(e)).toBeLessThan(0.05);
  } finally {
    await sampler.stop();
  }
});
