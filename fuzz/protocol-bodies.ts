/**
 * Fuzz target: every command's request and reply body decoder (decodeRequest/decodeReply),
 * the data choosing command, direction, fd count and decode options (see commandTarget).
 */
import { Command, type CommandId } from "../src/protocol/index.js";
import { commandTarget } from "./lib/command-target.js";

export const fuzz = commandTarget(Object.values(Command) as CommandId[]);
