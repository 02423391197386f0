#!/usr/bin/env node
// The `chamicore-edge` executable: the same as `chamicore edge`.
import { register } from "tsx/esm/api";

register();
process.argv.splice(2, 0, "edge");
await import("../../control/node/cli.ts");
