// Soak: 10 minutes (default) of sustained storm at 1 s sampling with tracefs on, after a 30 s quiet
// window. Prints RSS slope, event-loop p99 (quiet vs storm), samples completed per tick, overruns.
// usage (root, after npm run build): node dist/bench/soak.js [storm seconds=600] [concurrency=8] [quiet seconds=30]
import '../test/support/soak';
