#!/usr/bin/env node
/** The `chamicore` executable's entry (bundled into dist/cli/cli.js). */
import { main } from "./main";

main();
