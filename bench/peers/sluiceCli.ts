// `sluice` from this checkout's source, as bench/peers runs serve and destroy: its own process,
// as on a node (an in-process serve would share the bench's event loop, which every spawn
// of a plugin blocks).
import { main } from '../../src/cli/main';

void main(process.argv);
