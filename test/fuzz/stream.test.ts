import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concat, repliesOwed } from "../../fuzz/lib/stream.js";
import { Command, encodeMessage, VFIO_USER_F_NO_REPLY } from "../../src/protocol/index.js";

const cmd = (flags = 0, body = new Uint8Array(0)) =>
  encodeMessage({ id: 1, command: Command.VFIO_USER_DEVICE_RESET, flags }, body);

describe("repliesOwed (what server-session waits for)", () => {
  it("counts whole commands, not NO_REPLY ones, not replies", () => {
    const stream = concat([cmd(), cmd(VFIO_USER_F_NO_REPLY), cmd(1), cmd(0, new Uint8Array(5))]);
    assert.equal(repliesOwed(stream), 2);
  });

  it("stops at a partial message and at one the framing rejects", () => {
    assert.equal(repliesOwed(concat([cmd(), cmd().subarray(0, 10)])), 1);
    const tooSmall = cmd();
    tooSmall[4] = 8; // size 8 < the header: the server closes there
    assert.equal(repliesOwed(concat([cmd(), tooSmall, cmd()])), 1);
    assert.equal(repliesOwed(concat([cmd(), cmd(7), cmd()])), 1); // type 7
  });
});
