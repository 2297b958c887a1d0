#!/usr/bin/env node
// The DaemonSet's init container: installs the sluice CNI plugin on the node and chains it
// into the node's CNI configuration, then advertises the node's bandwidth to the scheduler.
// Idempotent (runs on every pod restart). Plain Node, no dependencies. The CRI test bed
// (test/support/containerd.ts) installs and chains the plugin with these same functions.
//
//   SLUICE_CNI_BIN_DIR   the node's CNI bin dir, mounted (default /host/opt/cni/bin)
//   SLUICE_CNI_CONF_DIR  the node's CNI conf dir, mounted (default /host/etc/cni/net.d)
//   SLUICE_HOST_PREFIX   where the node's /opt/sluice is mounted (default /host/opt/sluice)
//   SLUICE_NODE_MBIT     the node's link in Mbit/s, advertised as sluice.dev/bandwidth-mbit
//   NODE_NAME            from the downward API
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const https = require('node:https');

const binDir = process.env.SLUICE_CNI_BIN_DIR || '/host/opt/cni/bin';
const confDir = process.env.SLUICE_CNI_CONF_DIR || '/host/etc/cni/net.d';
const hostPrefix = process.env.SLUICE_HOST_PREFIX || '/host/opt/sluice';
const SLUICE_PLUGIN = { type: 'sluice', capabilities: { bandwidth: true, 'io.kubernetes.cri.pod-annotations': true } };

/** The plugin runs on the node, not in this image: copy node and the built package there. */
function installPlugin() {
  fs.mkdirSync(hostPrefix, { recursive: true });
  fs.cpSync('/app', path.join(hostPrefix, 'app'), { recursive: true });
  fs.copyFileSync(process.execPath, path.join(hostPrefix, 'node.tmp'));
  fs.chmodSync(path.join(hostPrefix, 'node.tmp'), 0o755);
  fs.renameSync(path.join(hostPrefix, 'node.tmp'), path.join(hostPrefix, 'node'));
  installExecutables(binDir, '/app/native/build/Release/sluice-cni', '/opt/sluice/node /opt/sluice/app/bin/sluice-cni.js');
}

/**
 * The runtime runs <bin dir>/<type>: `sluice` is the native executable (native/shim), which
 * hands ADD and DEL to serve and starts no Node; beside it `sluice-node` runs the Node
 * plugin (`nodeCommand`), which it execs for other commands and while serve is down.
 * Without a built shim, `sluice` is that Node plugin too.
 */
function installExecutables(dir, shim, nodeCommand, log = console.log) {
  const node = `#!/bin/sh\nexec ${nodeCommand} "$@"\n`;
  replaceFile(path.join(dir, 'sluice-node'), (tmp) => fs.writeFileSync(tmp, node, { mode: 0o755 }));
  if (fs.existsSync(shim)) replaceFile(path.join(dir, 'sluice'), (tmp) => fs.copyFileSync(shim, tmp));
  else replaceFile(path.join(dir, 'sluice'), (tmp) => fs.writeFileSync(tmp, node, { mode: 0o755 }));
  fs.chmodSync(path.join(dir, 'sluice'), 0o755);
  log(`installed ${path.join(dir, 'sluice')}${fs.existsSync(shim) ? ' (native) and sluice-node' : ' (node)'}`);
}

/** Written beside, then renamed: a runtime starting a pod meanwhile runs the old file or the new one, never half of one. */
function replaceFile(target, write) {
  write(`${target}.tmp`);
  fs.renameSync(`${target}.tmp`, target);
}

/**
 * containerd (and CRI-O) load only the first configuration file in lexical order: chain
 * sluice at the end of that one's plugins, replacing the reference bandwidth plugin
 * (both shaping one pod would fight over its traffic).
 */
function chainIntoFirstConflist(dir = confDir, plugin = SLUICE_PLUGIN, log = console.log) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.conflist') || f.endsWith('.conf') || f.endsWith('.json')).sort();
  if (files.length === 0) throw new Error(`no CNI configuration in ${dir}: install the cluster's network plugin first`);
  const file = path.join(dir, files[0]);
  const conf = JSON.parse(fs.readFileSync(file, 'utf8'));
  // A single-plugin .conf becomes a list (same name and version) so a plugin can follow it.
  const list = Array.isArray(conf.plugins) ? conf : { cniVersion: conf.cniVersion, name: conf.name, plugins: [conf] };
  if (list.plugins.some((p) => p.type === 'sluice')) {
    log(`${file} already chains sluice`);
    return;
  }
  list.plugins = list.plugins.filter((p) => p.type !== 'bandwidth').concat([plugin]);
  const out = file.endsWith('.conflist') ? file : file.replace(/\.(conf|json)$/, '.conflist');
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(list, null, 2));
  fs.renameSync(`${out}.tmp`, out);
  if (out !== file) fs.renameSync(file, `${file}.sluice-replaced`);
  log(`chained sluice into ${out}`);
}

/** A PATCH of the node's status: the scheduler then places pods by sluice.dev/bandwidth-mbit requests. */
function advertiseCapacity() {
  const mbit = process.env.SLUICE_NODE_MBIT;
  const node = process.env.NODE_NAME;
  if (!mbit || !node) return Promise.resolve(console.log('SLUICE_NODE_MBIT or NODE_NAME unset: capacity not advertised'));
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const body = JSON.stringify([{ op: 'add', path: '/status/capacity/sluice.dev~1bandwidth-mbit', value: String(Math.floor(Number(mbit))) }]);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: process.env.KUBERNETES_SERVICE_HOST,
      port: process.env.KUBERNETES_SERVICE_PORT || 443,
      method: 'PATCH',
      path: `/api/v1/nodes/${encodeURIComponent(node)}/status`,
      ca: fs.readFileSync(`${sa}/ca.crt`),
      headers: { Authorization: `Bearer ${fs.readFileSync(`${sa}/token`, 'utf8').trim()}`, 'Content-Type': 'application/json-patch+json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(console.log(`node ${node}: sluice.dev/bandwidth-mbit = ${mbit}`)) : reject(new Error(`PATCH node status: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

module.exports = { installExecutables, chainIntoFirstConflist, SLUICE_PLUGIN };

if (require.main === module) {
  installPlugin();
  chainIntoFirstConflist();
  advertiseCapacity().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
