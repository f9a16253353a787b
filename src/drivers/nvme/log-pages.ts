/**
 * Log pages this driver reads (base spec 2.0, section 5.16.1): SMART / Health
 * Information (02h). Counters are 128-bit in the spec; they are bigints here.
 */

export const LID_ERROR_INFO = 0x01;
export const LID_SMART = 0x02;
export const LID_FIRMWARE_SLOT = 0x03;
export const SMART_LOG_SIZE = 512;

/** SMART / Health Information log page (02h), decoded. */
export interface SmartLog {
  /** Bit field: spare below threshold, temperature, reliability, read-only, backup. */
  readonly criticalWarning: number;
  /** Composite temperature in kelvins. */
  readonly temperatureKelvin: number;
  readonly availableSpare: number;
  readonly availableSpareThreshold: number;
  readonly percentageUsed: number;
  /** In thousands of 512-byte units, rounded up. */
  readonly dataUnitsRead: bigint;
  readonly dataUnitsWritten: bigint;
  readonly hostReadCommands: bigint;
  readonly hostWriteCommands: bigint;
  readonly controllerBusyTime: bigint;
  readonly powerCycles: bigint;
  readonly powerOnHours: bigint;
  readonly unsafeShutdowns: bigint;
  readonly mediaErrors: bigint;
  readonly errorLogEntries: bigint;
}

export function decodeSmartLog(data: Uint8Array): SmartLog {
  if (data.byteLength < SMART_LOG_SIZE) {
    throw new RangeError(`SMART log must be ${SMART_LOG_SIZE} bytes, got ${data.byteLength}`);
  }
  const v = new DataView(data.buffer, data.byteOffset, SMART_LOG_SIZE);
  const u128 = (o: number) => v.getBigUint64(o, true) | (v.getBigUint64(o + 8, true) << 64n);
  return {
    criticalWarning: data[0]!,
    temperatureKelvin: v.getUint16(1, true),
    availableSpare: data[3]!,
    availableSpareThreshold: data[4]!,
    percentageUsed: data[5]!,
    dataUnitsRead: u128(32),
    dataUnitsWritten: u128(48),
    hostReadCommands: u128(64),
    hostWriteCommands: u128(80),
    controllerBusyTime: u128(96),
    powerCycles: u128(112),
    powerOnHours: u128(128),
    unsafeShutdowns: u128(144),
    mediaErrors: u128(160),
    errorLogEntries: u128(176),
  };
}
