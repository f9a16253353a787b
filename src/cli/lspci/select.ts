/**
 * lspci's device selectors, with pciutils' syntax and meaning: `-s
 * [[[[<domain>]:]<bus>]:][<slot>][.[<func>]]` and `-d [<vendor>]:[<device>][:<class>]`.
 * A part left out, or given as `*`, matches anything; numbers are hex.
 */
import { InvalidArgumentError } from "commander";

export interface SlotAddress {
  readonly domain: number;
  readonly bus: number;
  readonly slot: number;
  readonly func: number;
}

export type Matcher<T> = (value: T) => boolean;

function field(text: string | undefined, max: number, what: string): number | undefined {
  if (text === undefined || text === "" || text === "*") return undefined;
  if (!/^[0-9a-f]+$/i.test(text) || Number.parseInt(text, 16) > max) {
    throw new InvalidArgumentError(`invalid ${what} "${text}"`);
  }
  return Number.parseInt(text, 16);
}

/** Parses "dddd:bb:ss.f" (any part optional) into a matcher, as pci_filter_parse_slot does. */
export function parseSlotFilter(text: string): Matcher<SlotAddress> {
  const [location = "", fn] = text.split(".", 2) as [string, string | undefined];
  if (text.split(".").length > 2) throw new InvalidArgumentError(`invalid slot "${text}"`);
  const parts = location.split(":");
  if (parts.length > 3) throw new InvalidArgumentError(`invalid slot "${text}"`);
  const [domain, bus, slot] =
    parts.length === 3
      ? [parts[0], parts[1], parts[2]]
      : parts.length === 2
        ? [undefined, parts[0], parts[1]]
        : [undefined, undefined, parts[0]];
  const want = {
    domain: field(domain, 0xffff, "domain"),
    bus: field(bus, 0xff, "bus"),
    slot: field(slot, 0x1f, "slot"),
    func: field(fn, 7, "function"),
  };
  return (a) =>
    (want.domain === undefined || want.domain === a.domain) &&
    (want.bus === undefined || want.bus === a.bus) &&
    (want.slot === undefined || want.slot === a.slot) &&
    (want.func === undefined || want.func === a.func);
}

export interface DeviceIds {
  readonly vendorId: number;
  readonly deviceId: number;
  /** Base class and subclass, 16 bits (config bytes 0x0b:0x0a). */
  readonly classId: number;
}

/** Parses "vvvv:dddd[:cccc]" (any part optional), as pci_filter_parse_id does. */
export function parseIdFilter(text: string): Matcher<DeviceIds> {
  const parts = text.split(":");
  if (parts.length < 2 || parts.length > 3) {
    throw new InvalidArgumentError(`invalid ID "${text}": expected [vendor]:[device][:class]`);
  }
  const vendor = field(parts[0], 0xffff, "vendor ID");
  const device = field(parts[1], 0xffff, "device ID");
  const cls = field(parts[2], 0xffff, "class");
  return (d) =>
    (vendor === undefined || vendor === d.vendorId) &&
    (device === undefined || device === d.deviceId) &&
    (cls === undefined || cls === d.classId);
}

/** "[dddd:]bb:ss.f" as a fixed address (our --slot: where to show the device). */
export function parseSlotAddress(text: string): SlotAddress {
  const m = /^(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i.exec(text);
  if (!m || Number.parseInt(m[3]!, 16) > 0x1f) {
    throw new InvalidArgumentError("expected [dddd:]bb:dd.f, e.g. 00:04.0");
  }
  return {
    domain: Number.parseInt(m[1] ?? "0", 16),
    bus: Number.parseInt(m[2]!, 16),
    slot: Number.parseInt(m[3]!, 16),
    func: Number(m[4]),
  };
}

export function formatSlot(a: SlotAddress): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, "0");
  return `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}.${a.func}`;
}
