// Type test, checked by `npm run check` (tsc): payload and result types of `enqueue` come from
// the config's task definitions. Each @ts-expect-error must be an error, or tsc fails.
import { createClient, defineConfig, defineTask } from '../../src/index.js';

const config = defineConfig({
  tasks: {
    hello: defineTask({ run: async (p: { name: string }) => `hi ${p.name}` }),
    add: defineTask({ run: (p: { a: number; b: number }) => p.a + p.b }),
  },
});

export async function typeChecks(): Promise<void> {
  const tq = createClient(config, { inline: true });
  const greeting: string = await (await tq.enqueue('hello', { name: 'x' })).wait();
  const sum: number = await (await tq.enqueue('add', { a: 1, b: 2 })).wait();
  // @ts-expect-error wrong payload shape
  await tq.enqueue('hello', { nom: 'x' });
  // @ts-expect-error wrong payload type
  await tq.enqueue('add', { a: '1', b: 2 });
  // @ts-expect-error unknown task
  await tq.enqueue('nope', {});
  // @ts-expect-error the result of add is a number
  const wrong: string = await (await tq.enqueue('add', { a: 1, b: 2 })).wait();
  void greeting;
  void sum;
  void wrong;
}
