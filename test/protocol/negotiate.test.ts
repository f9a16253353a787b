import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Command } from "../../src/protocol/constants.js";
import { decodeReply, encodeReply } from "../../src/protocol/messages/index.js";
import type { VersionMessage } from "../../src/protocol/messages/version.js";
import {
  checkVersionReply,
  negotiateVersion,
  resolveCapabilities,
  type VersionPolicy,
} from "../../src/protocol/negotiate.js";
import { capabilities, plain } from "./arbitraries.js";

const ours: VersionPolicy = {
  major: 0,
  minor: 1,
  capabilities: {
    maxMsgFds: 8,
    maxDataXferSize: 1 << 20,
    maxDmaMaps: 1000,
    pgsizes: 4096n | (2n << 20n),
    migration: { pgsize: 4096n },
    twinSocket: { supported: true, fdIndex: 0 },
    writeMultiple: true,
  },
};

/** What QEMU's vfio-user client proposes (hw/vfio-user/proxy.c caps_json). */
const qemuProposal: VersionMessage = {
  major: 0,
  minor: 0,
  capabilities: {
    migration: { pgsize: 4096n, maxBitmapSize: 256 * 1024 * 1024 },
    maxMsgFds: 16,
    maxDataXferSize: 1048576,
    pgsizes: 4096n,
    maxDmaMaps: 65535,
    writeMultiple: true,
  },
};

describe("resolveCapabilities", () => {
  it("fills in the spec defaults", () => {
    assert.deepEqual(resolveCapabilities(), {
      maxMsgFds: 1,
      maxDataXferSize: 1048576,
      maxDmaMaps: 65535,
      pgsizes: 4096n,
      twinSocket: false,
      writeMultiple: false,
    });
    assert.deepEqual(resolveCapabilities({ migration: {} }).migration, {
      pgsize: 4096n,
      maxBitmapSize: 256 * 1024 * 1024,
    });
  });
});

describe("negotiateVersion (server side)", () => {
  it("answers QEMU with limits it accepts (never above what it proposed)", () => {
    const r = negotiateVersion(ours, qemuProposal);
    assert.ok(r.ok);
    assert.deepEqual(r.reply, {
      major: 0,
      minor: 0,
      capabilities: {
        maxMsgFds: 8,
        maxDataXferSize: 1048576,
        maxDmaMaps: 1000,
        pgsizes: 4096n,
        migration: { pgsize: 4096n, maxBitmapSize: 256 * 1024 * 1024 },
        writeMultiple: true,
      },
    });
    assert.equal(r.session.twinSocket, false);
    assert.equal(r.session.maxMsgFds, 8);
  });

  it("replies to a bare proposal with defaults and only limits that differ from them", () => {
    const r = negotiateVersion(ours, { major: 0, minor: 5 });
    assert.ok(r.ok);
    assert.deepEqual(r.reply, { major: 0, minor: 1, capabilities: { maxDmaMaps: 1000 } });
    assert.equal(r.session.maxMsgFds, 1);
    assert.equal(r.session.pgsizes, 4096n);
  });

  it("enables twin-socket mode only if both sides support it", () => {
    const r = negotiateVersion(ours, {
      major: 0,
      minor: 1,
      capabilities: { twinSocket: { supported: true } },
    });
    assert.ok(r.ok);
    assert.deepEqual(r.reply.capabilities?.twinSocket, { supported: true, fdIndex: 0 });
    assert.equal(r.session.twinSocket, true);
    const no = negotiateVersion(
      { ...ours, capabilities: {} },
      { major: 0, minor: 1, capabilities: { twinSocket: { supported: true } } },
    );
    assert.ok(no.ok);
    assert.equal(no.reply.capabilities?.twinSocket, undefined);
  });

  it("closes on another major, fds, no common page size, or a missing required capability", () => {
    const major = negotiateVersion(ours, { major: 1, minor: 0 });
    assert.ok(!major.ok && major.code === "EPROTONOSUPPORT");
    const fds = negotiateVersion(ours, { major: 0, minor: 0 }, 1);
    assert.ok(!fds.ok && fds.code === "EINVAL");
    const pg = negotiateVersion(ours, { major: 0, minor: 0, capabilities: { pgsizes: 1n << 30n } });
    assert.ok(!pg.ok && /page size/.test(pg.reason));
    const req = negotiateVersion({ ...ours, required: ["twin_socket"] }, qemuProposal);
    assert.ok(!req.ok && req.code === "EOPNOTSUPP");
  });

  it("ignores unknown capabilities and does not echo them", () => {
    const r = negotiateVersion(ours, {
      major: 0,
      minor: 0,
      capabilities: { unknown: { future: 1 } },
    });
    assert.ok(r.ok);
    assert.equal(r.reply.capabilities?.unknown, undefined);
  });
});

describe("checkVersionReply (client side)", () => {
  const proposal: VersionMessage = {
    major: 0,
    minor: 1,
    capabilities: { maxMsgFds: 16, twinSocket: { supported: true }, pgsizes: 4096n },
  };

  it("accepts a consistent twin-socket reply and takes the smaller limits", () => {
    const r = checkVersionReply(
      proposal,
      {
        major: 0,
        minor: 0,
        capabilities: { maxMsgFds: 8, twinSocket: { supported: true, fdIndex: 0 } },
      },
      1,
    );
    assert.ok(r.ok);
    assert.equal(r.session.twinSocket, true);
    assert.equal(r.session.twinSocketFdIndex, 0);
    assert.equal(r.session.maxMsgFds, 8);
    assert.equal(r.session.minor, 0);
  });

  it("accepts libvfio-user's larger limits (it replies its own) but uses ours", () => {
    const r = checkVersionReply(
      { major: 0, minor: 1 },
      {
        major: 0,
        minor: 1,
        capabilities: { maxMsgFds: 8, maxDataXferSize: 1 << 20, unknown: { x: 1 } },
      },
      0,
    );
    assert.ok(r.ok);
    assert.equal(r.session.maxMsgFds, 1);
  });

  it("rejects major/minor mismatches and inconsistent twin-socket replies", () => {
    const bad = (reply: VersionMessage, fds: number) => {
      const r = checkVersionReply(proposal, reply, fds);
      assert.ok(!r.ok);
      return r;
    };
    assert.equal(bad({ major: 1, minor: 0 }, 0).code, "EPROTONOSUPPORT");
    assert.equal(bad({ major: 0, minor: 2 }, 0).code, "EPROTO");
    assert.match(
      bad({ major: 0, minor: 1, capabilities: { twinSocket: { supported: true } } }, 1).reason,
      /fd_index/,
    );
    assert.match(
      bad({ major: 0, minor: 1, capabilities: { twinSocket: { supported: true, fdIndex: 1 } } }, 1)
        .reason,
      /fd_index 1/,
    );
    const unasked = checkVersionReply(
      { major: 0, minor: 1 },
      { major: 0, minor: 1, capabilities: { twinSocket: { supported: true, fdIndex: 0 } } },
      1,
    );
    assert.ok(!unasked.ok && /unasked/.test(unasked.reason));
    assert.match(
      bad({ major: 0, minor: 1, capabilities: { pgsizes: 8192n } }, 0).reason,
      /page size/,
    );
  });

  it("treats supported=false or a missing object as twin-socket off", () => {
    for (const capabilities of [{}, { twinSocket: {} }, { twinSocket: { supported: false } }]) {
      const r = checkVersionReply(proposal, { major: 0, minor: 1, capabilities }, 0);
      assert.ok(r.ok && !r.session.twinSocket);
    }
  });
});

describe("negotiation properties", () => {
  const policy = fc.record({
    major: fc.constant(0),
    minor: fc.nat(10),
    capabilities: capabilities.map(plain),
  });
  const proposal = fc.record(
    {
      major: fc.constantFrom(0, 0, 0, 1),
      minor: fc.nat(10),
      capabilities: capabilities.map(plain),
    },
    { requiredKeys: ["major", "minor"] },
  );

  it("reply minor <= proposed, limits never exceed either side's, the client accepts it", () => {
    fc.assert(
      fc.property(policy, proposal, (pol, prop) => {
        const r = negotiateVersion(pol, prop);
        if (!r.ok) {
          const common =
            resolveCapabilities(pol.capabilities).pgsizes &
            resolveCapabilities(prop.capabilities).pgsizes;
          assert.ok(prop.major !== pol.major || common === 0n, r.reason);
          return;
        }
        const p = resolveCapabilities(prop.capabilities);
        const o = resolveCapabilities(pol.capabilities);
        const rep = resolveCapabilities(r.reply.capabilities);
        assert.equal(r.reply.major, prop.major);
        assert.ok(r.reply.minor <= prop.minor && r.reply.minor <= pol.minor);
        for (const k of ["maxMsgFds", "maxDataXferSize", "maxDmaMaps"] as const) {
          assert.ok(rep[k] <= p[k] && rep[k] <= o[k], k);
          assert.equal(r.session[k], rep[k]);
        }
        assert.equal(rep.pgsizes & ~p.pgsizes, 0n);
        assert.equal(rep.pgsizes & ~o.pgsizes, 0n);
        if (rep.migration) {
          assert.ok(p.migration && o.migration);
          assert.equal(rep.migration.pgsize & ~(p.migration.pgsize & o.migration.pgsize), 0n);
          assert.ok(
            rep.migration.maxBitmapSize <=
              Math.min(p.migration.maxBitmapSize, o.migration.maxBitmapSize),
          );
        }
        assert.ok(!rep.writeMultiple || (p.writeMultiple && o.writeMultiple));
        assert.ok(!rep.twinSocket || (p.twinSocket && o.twinSocket));
        // every capability in the reply was proposed, or is a limit that differs from its default
        const given = prop.capabilities ?? {};
        for (const key of Object.keys(r.reply.capabilities ?? {})) {
          const k = key as keyof typeof given;
          assert.ok(
            given[k] !== undefined ||
              ["maxMsgFds", "maxDataXferSize", "maxDmaMaps", "pgsizes"].includes(key),
            key,
          );
        }
        // the reply survives the wire, and the proposing client accepts it
        const wire = decodeReply(
          Command.VFIO_USER_VERSION,
          encodeReply(Command.VFIO_USER_VERSION, r.reply),
          { numFds: 1 },
        );
        const fds = r.session.twinSocket ? (r.session.twinSocketFdIndex ?? 0) + 1 : 0;
        const c = checkVersionReply(prop, wire, fds);
        assert.ok(c.ok, !c.ok ? c.reason : "");
        for (const k of [
          "maxMsgFds",
          "maxDataXferSize",
          "maxDmaMaps",
          "pgsizes",
          "twinSocket",
        ] as const) {
          assert.equal(c.session[k], r.session[k], k);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
