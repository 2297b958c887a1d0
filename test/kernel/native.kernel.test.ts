// Real-kernel tests of the native addon: namespaces as iproute2 makes them, netlink
// sockets that live in the namespace they were opened in, batched acks, sysctls, BPF.
// Everything is made in sl-na* namespaces and removed in afterEach, also on failure.

import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { KernelError, NamespaceNotFoundError } from '../../src/errors';
import {
  closeFd,
  createNetns,
  deleteNetns,
  listNetns,
  loadNetclsClassidProgram,
  netnsExists,
  netnsPath,
  openNetnsFd,
  pidNetns,
  readSysctl,
  writeSysctl,
  type NetnsOptions,
} from '../../src/kernel/native';
import type { NetlinkChannel } from '../../src/kernel/netlink/channel';
import { nativeChannelFactory, runsInLine } from '../../src/kernel/netlink/nativeChannel';
import { HOST_NETNS } from '../../src/tc/model';
import { describeKernel } from '../support/kernel';


// linux/netlink.h, linux/rtnetlink.h, linux/if_link.h
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const IFLA_IFNAME = 3;
const IFA_LOCAL = 2;
const IFA_ADDRESS = 1;
const AF_INET = 2;
const NLMSG_HDRLEN = 16;

const created: string[] = [];
const channels: NetlinkChannel[] = [];
let nextSeq = 1;

function makeNetns(suffix: string, options?: NetnsOptions): string {
  const name = `sl-na-${suffix}`;
  createNetns(name, options);
  created.push(name);
  return name;
}

afterEach(() => {
  for (const channel of channels.splice(0)) channel.close();
  for (const name of created.splice(0)) deleteNetns(name);
});

function align4(length: number): number {
  return (length + 3) & ~3;
}

function attribute(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + payload.length));
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

function nlmsg(type: number, flags: number, body: Buffer): { message: Buffer; seq: number } {
  const seq = nextSeq++;
  const message = Buffer.alloc(NLMSG_HDRLEN + body.length);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE(type, 4);
  message.writeUInt16LE(flags | NLM_F_REQUEST, 6);
  message.writeUInt32LE(seq, 8);
  body.copy(message, NLMSG_HDRLEN);
  return { message, seq };
}

/** struct ifinfomsg (16 bytes) */
function ifinfomsg(ifindex: number): Buffer {
  const body = Buffer.alloc(16);
  body.writeInt32LE(ifindex, 4);
  return body;
}

/** struct ifaddrmsg (8 bytes) + IFA_LOCAL/IFA_ADDRESS */
function ifaddrmsg(address: string, prefixLength: number, ifindex: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(AF_INET, 0);
  header.writeUInt8(prefixLength, 1);
  header.writeUInt32LE(ifindex, 4);
  const bytes = Buffer.from(address.split('.').map(Number));
  return Buffer.concat([header, attribute(IFA_LOCAL, bytes), attribute(IFA_ADDRESS, bytes)]);
}

const typeOf = (answer: Buffer): number => answer.readUInt16LE(4);
const flagsOf = (answer: Buffer): number => answer.readUInt16LE(6);
const seqOf = (answer: Buffer): number => answer.readUInt32LE(8);
const errorOf = (answer: Buffer): number => answer.readInt32LE(NLMSG_HDRLEN);

function attributes(message: Buffer, offset: number): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  let at = offset;
  while (at + 4 <= message.length) {
    const length = message.readUInt16LE(at);
    if (length < 4) break;
    found.set(message.readUInt16LE(at + 2) & 0x3fff, message.subarray(at + 4, at + length));
    at += align4(length);
  }
  return found;
}

/** NLMSGERR_ATTR_MSG of a capped ack (nlmsgerr = error + the request's header). */
function extAckMessage(answer: Buffer): string | undefined {
  if ((flagsOf(answer) & NLM_F_ACK_TLVS) === 0) return undefined;
  const text = attributes(answer, NLMSG_HDRLEN + 4 + NLMSG_HDRLEN).get(NLMSGERR_ATTR_MSG);
  return text?.toString('utf8').replace(/\0+$/, '');
}

function ipNetnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

async function openChannel(name: string): Promise<NetlinkChannel> {
  const channel = await nativeChannelFactory.open(name);
  channels.push(channel);
  return channel;
}

function threadNamespaces(): Set<string> {
  const tasks = readdirSync('/proc/self/task');
  return new Set(tasks.map((task) => readlinkSync(`/proc/self/task/${task}/ns/net`)));
}

describeKernel('native addon against the kernel', [], () => {
  it('creates a namespace that ip netns sees, refuses a duplicate, deletes idempotently', () => {
    const name = makeNetns('life');
    expect(ipNetnsList()).toContain(name);
    expect(listNetns()).toContain(name);
    expect(netnsExists(name)).toBe(true);
    expect(execFileSync('ip', ['netns', 'exec', name, 'ip', '-o', 'link'], { encoding: 'utf8' })).toMatch(/^1: lo:/);

    let duplicate: unknown;
    try {
      createNetns(name);
    } catch (error) {
      duplicate = error;
    }
    expect(duplicate).toBeInstanceOf(KernelError);
    expect((duplicate as KernelError).code).toBe('EEXIST');
    expect((duplicate as KernelError).errno).toBe(17);
    expect((duplicate as KernelError).object).toBe(`namespace ${name}`);

    deleteNetns(name);
    created.splice(created.indexOf(name), 1);
    expect(ipNetnsList()).not.toContain(name);
    expect(netnsExists(name)).toBe(false);
    expect(() => deleteNetns(name)).not.toThrow();
  });

  it('never moves a Node thread into another namespace', async () => {
    const before = threadNamespaces();
    const name = makeNetns('threads');
    const channel = await openChannel(name);
    await channel.exchange([nlmsg(RTM_GETLINK, NLM_F_DUMP, ifinfomsg(0)).message], [nextSeq - 1]);
    writeSysctl(name, 'net.ipv4.ip_forward', '1');
    expect(threadNamespaces()).toEqual(before);
    expect(before.size).toBe(1);
  });

  it('resolves locators and reports a missing namespace as NamespaceNotFoundError', async () => {
    expect(netnsPath('sl-na-x')).toBe('/run/netns/sl-na-x');
    expect(netnsPath(HOST_NETNS)).toBe('/proc/self/ns/net');
    expect(netnsPath('/proc/1/ns/net')).toBe('/proc/1/ns/net');
    expect(pidNetns(42)).toBe('/proc/42/ns/net');
    await expect(nativeChannelFactory.open('sl-na-missing')).rejects.toBeInstanceOf(NamespaceNotFoundError);
    expect(() => readSysctl('sl-na-missing', 'net.ipv4.ip_forward')).toThrow(NamespaceNotFoundError);
    expect(() => openNetnsFd('sl-na-missing')).toThrow(NamespaceNotFoundError);
  });

  it('dumps exactly the namespace loopback, not the host links', async () => {
    const channel = await openChannel(makeNetns('dump'));
    const request = nlmsg(RTM_GETLINK, NLM_F_DUMP, ifinfomsg(0));
    expect(request.message.length).toBe(32);
    const answers = await channel.exchange([request.message], [request.seq]);
    const links = answers.filter((answer) => typeOf(answer) === RTM_NEWLINK);
    expect(links).toHaveLength(1);
    expect(links[0]!.readInt32LE(NLMSG_HDRLEN + 4)).toBe(1);
    const name = attributes(links[0]!, NLMSG_HDRLEN + 16).get(IFLA_IFNAME);
    expect(name?.toString('utf8').replace(/\0+$/, '')).toBe('lo');
    expect(typeOf(answers[answers.length - 1]!)).toBe(NLMSG_DONE);
    expect(answers.every((answer) => seqOf(answer) === request.seq)).toBe(true);
  });

  it('ends a dump that also asks for an ack at NLMSG_DONE', async () => {
    const channel = await openChannel(makeNetns('dumpack'));
    const request = nlmsg(RTM_GETLINK, NLM_F_DUMP | NLM_F_ACK, ifinfomsg(0));
    const answers = await channel.exchange([request.message], [request.seq]);
    expect(answers.map(typeOf)).toEqual([RTM_NEWLINK, NLMSG_DONE]);
  });

  // The kernel runs one dump at a time per socket: a second dump request in the datagram
  // of one still in progress is refused (EBUSY). Each dump needs more than one skb here.
  it('answers several dumps in one exchange in full, one after another', async () => {
    const name = makeNetns('dumps');
    const channel = await openChannel(name);
    const adds = Array.from({ length: 1000 }, (_, i) => nlmsg(RTM_NEWADDR, NLM_F_ACK | 0x400 | 0x200, ifaddrmsg(`198.18.${20 + (i >> 8)}.${i & 255}`, 32, 1)));
    await channel.exchange(adds.map((r) => r.message), adds.map((r) => r.seq));
    const dumps = [nlmsg(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg('0.0.0.0', 0, 0).subarray(0, 8)), nlmsg(RTM_GETLINK, NLM_F_DUMP, ifinfomsg(0)), nlmsg(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg('0.0.0.0', 0, 0).subarray(0, 8))];
    const answers = await channel.exchange(dumps.map((r) => r.message), dumps.map((r) => r.seq));
    // Per dump: how many answers of each type, and its last.
    const of = (seq: number): { counts: Record<number, number>; last: number | undefined } => {
      const types = answers.filter((a) => seqOf(a) === seq).map(typeOf);
      const counts: Record<number, number> = {};
      for (const t of types) counts[t] = (counts[t] ?? 0) + 1;
      return { counts, last: types[types.length - 1] };
    };
    const addressDump = { counts: { [RTM_NEWADDR]: 1000, [NLMSG_DONE]: 1 }, last: NLMSG_DONE };
    expect(of(dumps[0]!.seq)).toEqual(addressDump);
    expect(of(dumps[1]!.seq)).toEqual({ counts: { [RTM_NEWLINK]: 1, [NLMSG_DONE]: 1 }, last: NLMSG_DONE });
    expect(of(dumps[2]!.seq)).toEqual(addressDump);
  });

  it('collects one ack per request for a batch of 2000 requests', async () => {
    const channel = await openChannel(makeNetns('batch'));
    const requests = Array.from({ length: 2000 }, () => nlmsg(RTM_GETLINK, NLM_F_ACK, ifinfomsg(1)));
    const answers = await channel.exchange(
      requests.map((request) => request.message),
      requests.map((request) => request.seq),
    );
    const acks = answers.filter((answer) => typeOf(answer) === NLMSG_ERROR);
    expect(acks).toHaveLength(2000);
    expect(acks.every((ack) => errorOf(ack) === 0)).toBe(true);
    expect(new Set(acks.map(seqOf))).toEqual(new Set(requests.map((request) => request.seq)));
    expect(answers.filter((answer) => typeOf(answer) === RTM_NEWLINK)).toHaveLength(2000);
  });

  it('runs a small batch in line only when no pooled batch is in flight: a batch behind a pooled one waits its turn', async () => {
    const channel = await openChannel(makeNetns('inline'));
    const big = Array.from({ length: 2000 }, () => nlmsg(RTM_GETLINK, NLM_F_ACK, ifinfomsg(1)));
    const small = [nlmsg(RTM_GETLINK, NLM_F_ACK, ifinfomsg(1)), nlmsg(RTM_DELLINK, NLM_F_ACK, ifinfomsg(9999))];
    expect(runsInLine(big.map((r) => r.message))).toBe(false);
    expect(runsInLine(small.map((r) => r.message))).toBe(true);
    const order: string[] = [];
    const pooled = channel.exchange(big.map((r) => r.message), big.map((r) => r.seq)).then((a) => (order.push('big'), a));
    const behind = channel.exchange(small.map((r) => r.message), small.map((r) => r.seq)).then((a) => (order.push('small'), a));
    const [bigAnswers, smallAnswers] = await Promise.all([pooled, behind]);
    expect(order).toEqual(['big', 'small']);
    expect(bigAnswers.filter((a) => typeOf(a) === NLMSG_ERROR)).toHaveLength(2000);
    expect(smallAnswers.filter((a) => typeOf(a) === NLMSG_ERROR).map((a) => [seqOf(a), errorOf(a)])).toEqual([[small[0]!.seq, 0], [small[1]!.seq, -19]]);
    // With nothing in flight the small batch is answered in line, before its promise is even awaited.
    const alone = channel.exchange(small.map((r) => r.message), small.map((r) => r.seq));
    expect((await alone).filter((a) => typeOf(a) === NLMSG_ERROR)).toHaveLength(2);
  });

  it('adds and deletes 250 addresses on lo in one batch', async () => {
    const name = makeNetns('addr');
    const channel = await openChannel(name);
    const addresses = Array.from({ length: 250 }, (_, i) => `198.18.10.${i + 1}`);
    const adds = addresses.map((address) => nlmsg(RTM_NEWADDR, NLM_F_ACK | 0x400 | 0x200, ifaddrmsg(address, 32, 1)));
    const addAnswers = await channel.exchange(adds.map((r) => r.message), adds.map((r) => r.seq));
    expect(addAnswers.filter((a) => typeOf(a) === NLMSG_ERROR && errorOf(a) === 0)).toHaveLength(250);
    const shown = execFileSync('ip', ['-n', name, '-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
    expect(shown.trim().split('\n')).toHaveLength(250);

    const dels = addresses.map((address) => nlmsg(RTM_DELADDR, NLM_F_ACK, ifaddrmsg(address, 32, 1)));
    const delAnswers = await channel.exchange(dels.map((r) => r.message), dels.map((r) => r.seq));
    expect(delAnswers.filter((a) => typeOf(a) === NLMSG_ERROR && errorOf(a) === 0)).toHaveLength(250);
  });

  it('returns kernel errors as NLMSG_ERROR with errno and the extended-ack message', async () => {
    const channel = await openChannel(makeNetns('err'));
    const missingLink = nlmsg(RTM_DELLINK, NLM_F_ACK, ifinfomsg(9999));
    const badPrefix = nlmsg(RTM_NEWADDR, NLM_F_ACK | 0x400, ifaddrmsg('198.18.10.1', 33, 1));
    const good = nlmsg(RTM_GETLINK, NLM_F_ACK, ifinfomsg(1));
    const answers = await channel.exchange(
      [missingLink.message, badPrefix.message, good.message],
      [missingLink.seq, badPrefix.seq, good.seq],
    );
    const ackFor = (seq: number): Buffer => answers.find((a) => typeOf(a) === NLMSG_ERROR && seqOf(a) === seq)!;
    expect(errorOf(ackFor(missingLink.seq))).toBe(-19); // ENODEV
    expect(errorOf(ackFor(badPrefix.seq))).toBe(-22); // EINVAL
    // The extended ack carries the kernel's own text (NLMSGERR_ATTR_MSG).
    expect(extAckMessage(ackFor(badPrefix.seq))).toMatch(/invalid prefix length/i);
    expect(errorOf(ackFor(good.seq))).toBe(0);
  });

  it('rejects exchanges on a closed channel', async () => {
    const channel = await openChannel(makeNetns('closed'));
    channel.close();
    const request = nlmsg(RTM_GETLINK, NLM_F_ACK, ifinfomsg(1));
    await expect(channel.exchange([request.message], [request.seq])).rejects.toMatchObject({
      code: 'EBADF',
      message: expect.stringMatching(/closed/),
    });
  });

  it('writes and reads a sysctl inside the namespace without touching the host', () => {
    const name = makeNetns('sysctl');
    const hostBefore = readSysctl(HOST_NETNS, 'net.ipv4.ip_forward');
    const wanted = hostBefore === '1' ? '0' : '1';
    writeSysctl(name, 'net.ipv4.ip_forward', wanted);
    expect(readSysctl(name, 'net.ipv4.ip_forward')).toBe(wanted);
    expect(readSysctl(HOST_NETNS, 'net.ipv4.ip_forward')).toBe(hostBefore);
    const shown = execFileSync('ip', ['netns', 'exec', name, 'cat', '/proc/sys/net/ipv4/ip_forward'], {
      encoding: 'utf8',
    });
    expect(shown.trim()).toBe(wanted);
    expect(() => readSysctl(name, 'net.ipv4.no_such_key')).toThrow(KernelError);
  });

  it("names a device with a dot in a sysctl key as sysctl(8) does ('/' for '.'), and refuses keys that climb out of /proc/sys", () => {
    const name = makeNetns('sysdot');
    execFileSync('ip', ['-n', name, 'link', 'add', 'sl-br.0', 'type', 'bridge']);
    writeSysctl(name, 'net.ipv4.conf.sl-br/0.proxy_arp', '1');
    expect(readSysctl(name, 'net.ipv4.conf.sl-br/0.proxy_arp')).toBe('1');
    expect(execFileSync('ip', ['netns', 'exec', name, 'cat', '/proc/sys/net/ipv4/conf/sl-br.0/proxy_arp'], { encoding: 'utf8' }).trim()).toBe('1');
    for (const key of ['net.ipv4.conf.//.x', 'net./.ipv4', 'net..ipv4']) expect(() => readSysctl(name, key)).toThrow(/invalid sysctl key/);
  });

  it('creates an IPv4-only namespace on request: its loopback and every later device without IPv6, the host untouched', () => {
    const hostBefore = readSysctl(HOST_NETNS, 'net.ipv6.conf.default.disable_ipv6');
    const plain = makeNetns('v6');
    const only4 = makeNetns('v4', { ipv6: false });
    expect(readSysctl(plain, 'net.ipv6.conf.all.disable_ipv6')).toBe('0');
    for (const key of ['all', 'default', 'lo']) expect(readSysctl(only4, `net.ipv6.conf.${key}.disable_ipv6`)).toBe('1');
    execFileSync('ip', ['-n', only4, 'link', 'add', 'sl-v4a', 'type', 'veth', 'peer', 'name', 'sl-v4b']);
    execFileSync('ip', ['-n', only4, 'link', 'set', 'sl-v4a', 'up']);
    expect(readSysctl(only4, 'net.ipv6.conf.sl-v4a.disable_ipv6')).toBe('1');
    expect(execFileSync('ip', ['-n', only4, '-6', '-o', 'addr', 'show'], { encoding: 'utf8' })).toBe('');
    expect(readSysctl(HOST_NETNS, 'net.ipv6.conf.default.disable_ipv6')).toBe(hostBefore);
  });

  it('brings lo up inside a new namespace on request (127.0.0.1 routed at once), down by default as ip netns add leaves it', () => {
    const loFlags = (ns: string): string[] => (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', 'lo'], { encoding: 'utf8' })) as { flags: string[] }[])[0]!.flags;
    expect(loFlags(makeNetns('lo-down'))).not.toContain('UP');
    const up = makeNetns('lo-up', { ipv6: false, loopbackUp: true });
    expect(loFlags(up)).toContain('UP');
    expect(execFileSync('ip', ['-n', up, 'route', 'show', 'table', 'local'], { encoding: 'utf8' })).toMatch(/local 127\.0\.0\.1 dev lo/);
  });

  it('opens a namespace fd for IFLA_NET_NS_FD', () => {
    const fd = openNetnsFd(makeNetns('fd'));
    expect(fd).toBeGreaterThan(2);
    closeFd(fd);
  });

  it('loads the net_cls classid BPF program', () => {
    const program = loadNetclsClassidProgram();
    try {
      expect(program.fd).toBeGreaterThan(0);
      expect(program.name).toBe('sl_netcls');
    } finally {
      closeFd(program.fd);
    }
  });
});
