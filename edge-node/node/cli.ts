#!/usr/bin/env node
/** The `chamicore-edge` executable's entry under Node (bundled into dist/cli/edge.js). */
import { main } from "../../control/node/main";

main({ edge: true });
