/**
 * The single `chamicore-edge` executable (scripts/build-edge.mjs): the
 * edge's commands, with the edge served by Bun.
 */
import { edgeMain } from "../cli/main";
import { importBundle, startEdge } from "./serve";

edgeMain(startEdge, importBundle);
