#!/usr/bin/env node
/** The `chamicore-edge` executable's entry under Node (bundled into dist/cli/edge.js). */
import { edgeMain } from "../cli/main";

edgeMain();
