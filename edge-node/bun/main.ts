/**
 * The single `chamicore-edge` executable (scripts/build-edge.mjs): the
 * edge's commands, with the edge served by Bun.
 */
import { main } from "../../control/node/main";
import { startEdge } from "./serve";

main({ edge: true, startEdge });
