#!/usr/bin/env node
'use strict';
// The CNI plugin `sluice`: install it into the CNI bin directory under the name "sluice"
// (the conflist's "type"), e.g. a symlink /opt/cni/bin/sluice -> this file.
require('../dist/cni/main.js').runFromProcess();
