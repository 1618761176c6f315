import { writeFileSync } from 'node:fs';
import { loadModel, profiler } from 'worldcast';

const model = await loadModel('test/fixtures/tiny', { threads: 2, decoder: 'test/fixtures/taehv_tiny' });
const session = model.createSession({ seed: 7, localAttnSize: 12, sinkSize: 3 });
await session.setPrompt(new Float32Array(5 * model.config.text_dim).fill(0.1)); // a T5-style embedding
profiler.start();
for (let b = 0; b < 4; b++) {
  const block = await session.step({ actions: { keys: b % 2 ? ['w'] : ['a'], mouse: { dx: 0.25 } } });
  console.log(`block ${b}: ${block.images.length} frames of ${block.images[0]!.width}×${block.images[0]!.height} in ${block.latencyMs.toFixed(1)} ms`);
}
writeFileSync('trace.json', JSON.stringify(profiler.stop().toChromeTrace()));
console.log(model.kvStats().usedBytes, 'bytes of KV in use');
await session.close();
model.close();
