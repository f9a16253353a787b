import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { migrationPath, migStateName } from "../../src/server/index.js";

const ERROR = 0;
const STOP = 1;
const RUNNING = 2;
const STOP_COPY = 3;
const RESUMING = 4;
const RUNNING_P2P = 5;
const PRE_COPY = 6;
const PRE_COPY_P2P = 7;
const STATES = [ERROR, STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY] as const;
type S = (typeof STATES)[number];

/**
 * The next state on the way from `from` to `to`, written out by hand from the spec's
 * direct arcs and path rules (and the kernel's vfio_mig_get_next_state table, whose
 * P2P-less rows it matches): the oracle the search must agree with.
 */
const NEXT: Record<number, Record<number, number | undefined>> = {
  [STOP]: {
    [STOP]: STOP,
    [RUNNING]: RUNNING,
    [STOP_COPY]: STOP_COPY,
    [RESUMING]: RESUMING,
    [PRE_COPY]: RUNNING,
  },
  [RUNNING]: {
    [STOP]: STOP,
    [RUNNING]: RUNNING,
    [STOP_COPY]: STOP,
    [RESUMING]: STOP,
    [PRE_COPY]: PRE_COPY,
  },
  [STOP_COPY]: {
    [STOP]: STOP,
    [RUNNING]: STOP,
    [STOP_COPY]: STOP_COPY,
    [RESUMING]: STOP,
    [PRE_COPY]: undefined,
  },
  [RESUMING]: {
    [STOP]: STOP,
    [RUNNING]: STOP,
    [STOP_COPY]: STOP,
    [RESUMING]: RESUMING,
    [PRE_COPY]: STOP,
  },
  [PRE_COPY]: {
    [STOP]: RUNNING,
    [RUNNING]: RUNNING,
    [STOP_COPY]: STOP_COPY,
    [RESUMING]: RUNNING,
    [PRE_COPY]: PRE_COPY,
  },
};

function walk(from: S, to: number, preCopy: boolean): number[] | undefined {
  const path = migrationPath(from, to, preCopy);
  if (path === undefined) return undefined;
  let at: number = from;
  for (const [a, b] of path) {
    assert.equal(a, at, "arcs chain");
    at = b;
  }
  assert.equal(at, to, "path ends at the target");
  return [from, ...path.map(([, b]) => b)];
}

describe("migration state machine", () => {
  it("takes the kernel's next state for every pair, with pre-copy", () => {
    for (const from of STATES) {
      for (const to of [STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY]) {
        const states = walk(from, to, true);
        if (from === ERROR) {
          assert.equal(states, undefined, `ERROR -> ${migStateName(to)} needs a reset`);
          continue;
        }
        const next = NEXT[from]![to];
        if (next === undefined) {
          assert.equal(
            states,
            undefined,
            `${migStateName(from)} -> ${migStateName(to)} is refused`,
          );
          continue;
        }
        assert.ok(states, `${migStateName(from)} -> ${migStateName(to)} has a path`);
        assert.equal(
          states.length > 1 ? states[1] : from,
          next,
          `${migStateName(from)} -> ${migStateName(to)}`,
        );
      }
    }
  });

  it("never passes through a saving state, and takes at most three arcs", () => {
    for (const from of STATES) {
      for (const to of STATES) {
        const states = walk(from, to, true);
        if (!states) continue;
        assert.ok(states.length <= 4);
        for (const s of states.slice(1, -1)) {
          assert.ok(s !== STOP_COPY && s !== PRE_COPY, `${states.map(migStateName).join(" -> ")}`);
        }
      }
    }
  });

  it("the direct arcs are one step each", () => {
    const direct: [S, S][] = [
      [RUNNING, STOP],
      [STOP_COPY, STOP],
      [RESUMING, STOP],
      [PRE_COPY, RUNNING],
      [STOP, RUNNING],
      [RUNNING, PRE_COPY],
      [STOP, STOP_COPY],
      [PRE_COPY, STOP_COPY],
      [STOP, RESUMING],
    ];
    for (const [a, b] of direct) assert.deepEqual(migrationPath(a, b, true), [[a, b]]);
  });

  it("refuses ERROR, the P2P states, unknown values and (without pre-copy) PRE_COPY", () => {
    for (const to of [ERROR, RUNNING_P2P, PRE_COPY_P2P, 8, 0xffffffff, -1]) {
      assert.equal(migrationPath(RUNNING, to, true), undefined, `-> ${to}`);
    }
    assert.equal(migrationPath(RUNNING, PRE_COPY, false), undefined);
    assert.equal(migrationPath(STOP, PRE_COPY, false), undefined);
    // Without pre-copy the other paths stay as they were.
    assert.deepEqual(walk(RUNNING, STOP_COPY, false), [RUNNING, STOP, STOP_COPY]);
    assert.deepEqual(walk(RESUMING, RUNNING, false), [RESUMING, STOP, RUNNING]);
  });

  it("a state to itself is no arc at all", () => {
    for (const s of STATES) assert.deepEqual(migrationPath(s, s, true), []);
  });
});
