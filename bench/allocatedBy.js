// What a call allocates in all, collected objects counted (garbage touches fresh pages
// too): the sampling heap profiler around it. Shared by the bench children that print
// allocated bytes. Plain JavaScript: they run on a built dist/.
const inspector = require('node:inspector');

/** `run()`'s result, kept alive in `globalThis.kept` (the profile would free it), and the bytes allocated while it ran (sampled every `samplingInterval` bytes). */
exports.allocatedBy = (run, samplingInterval) => {
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) => {
    let result;
    session.post(method, params, (error, r) => {
      if (error) throw error;
      result = r;
    });
    return result;
  };
  post('HeapProfiler.enable');
  post('HeapProfiler.startSampling', { samplingInterval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  globalThis.kept = run();
  const { profile } = post('HeapProfiler.stopSampling');
  let allocated = 0;
  (function walk(node) {
    allocated += node.selfSize;
    node.children.forEach(walk);
  })(profile.head);
  return allocated;
};
