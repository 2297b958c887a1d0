// struct tc_ratespec and the tick arithmetic shared by htb and tbf.
// The kernel keeps a burst as time (ns) at the configured rate; tc hands it over in
// psched ticks (64 ns on every kernel since 3.x, per /proc/net/psched), so bytes →
// ticks → bytes can round by up to rate/15.6M bytes (the planner tolerates that).

import { PSCHED_TICKS_PER_SEC, TC_LINKLAYER_ETHERNET } from './constants';

export const RATESPEC_SIZE = 12;
const U32_MAX = 0xffffffff;

/** Writes a tc_ratespec (cell_log, linklayer, overhead, cell_align, mpu, rate) at `at`. */
export function writeRatespec(buf: Buffer, at: number, bytesPerSec: number): void {
  buf.writeUInt8(0, at); // cell_log: only used with rate tables, which 6.x kernels do not need
  buf.writeUInt8(TC_LINKLAYER_ETHERNET, at + 1);
  buf.writeUInt16LE(0, at + 2);
  buf.writeInt16LE(0, at + 4);
  buf.writeUInt16LE(0, at + 6);
  // Above 4 GiB/s the 32-bit field saturates and the *_RATE64 attribute carries the value.
  buf.writeUInt32LE(Math.min(Math.round(bytesPerSec), U32_MAX), at + 8);
}

export const readRatespecRate = (buf: Buffer, at: number): number => buf.readUInt32LE(at + 8);
export const needs64 = (bytesPerSec: number): boolean => Math.round(bytesPerSec) >= U32_MAX;

export function burstToTicks(burstBytes: number, bytesPerSec: number): number {
  if (bytesPerSec <= 0) return 0;
  return Math.min(U32_MAX, Math.ceil((burstBytes * PSCHED_TICKS_PER_SEC) / bytesPerSec));
}

export function ticksToBurst(ticks: number, bytesPerSec: number): number {
  return Math.floor((ticks * bytesPerSec) / PSCHED_TICKS_PER_SEC + 1e-6);
}
