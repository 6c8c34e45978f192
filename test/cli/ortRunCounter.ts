/**
 * Preloaded (`node --import`) into a CLI child by test/cli/interruptModelCall.test.ts: writes one
 * stderr line as each ONNX Runtime run starts (`ort-run <n> <input names>`) so the test can send
 * Ctrl-C while a model call is in flight and count the model calls the command started, instead of
 * timing it. The first run's result is held until the process gets SIGINT (at most 60 s): a small
 * encoder can finish before the signal arrives, and the test is about a Ctrl-C *during* a call.
 * The CLI and library run their sessions in-process, so the prototype is the one they use.
 */
import * as ort from 'onnxruntime-node';

const proto = (ort.InferenceSession as unknown as { prototype: { run: (...args: unknown[]) => Promise<unknown> } }).prototype;
const run = proto.run;
let n = 0;
// The timer stays ref'd: while the first run's result is held nothing else may keep the process
// alive (eval's loop has no timer), and Node would exit 13 (unsettled await) before SIGINT came.
const sigint = new Promise<void>((res) => {
  const t = setTimeout(res, 60_000);
  process.once('SIGINT', () => {
    clearTimeout(t);
    res();
  });
});
proto.run = async function (this: ort.InferenceSession, ...args: unknown[]) {
  const i = ++n;
  process.stderr.write(`ort-run ${i} ${this.inputNames.join(',')}\n`);
  const out = await run.apply(this, args);
  if (i === 1) await sigint;
  return out;
};
