/**
 * The layers, as rules the build checks (`npm run lint:layers`, part of
 * `npm test`): shared ← functions ← control and edge-node, which never
 * import each other; runtime-neutral code (functions/ and shared/, but their
 * node/ folders) imports no Node module and nothing from a node/ folder; no
 * cycles.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "shared-imports-nothing-above",
      comment: "shared/ is below everything: it may not import functions/, control/ or edge-node/.",
      severity: "error",
      from: { path: "^shared/" },
      to: { path: "^(functions|control|edge-node)/" },
    },
    {
      name: "functions-imports-only-shared",
      comment:
        "functions/ (routes, rules, store ports) is written once for both hosts: it imports shared/ only.",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^(control|edge-node)/" },
    },
    {
      name: "control-never-imports-edge",
      comment: "control/ and edge-node/ are two hosts of the same functions: neither imports the other.",
      severity: "error",
      from: { path: "^control/" },
      to: { path: "^edge-node/" },
    },
    {
      name: "edge-never-imports-control",
      comment: "control/ and edge-node/ are two hosts of the same functions: neither imports the other.",
      severity: "error",
      from: { path: "^edge-node/" },
      to: { path: "^control/" },
    },
    {
      name: "neutral-code-imports-no-node-module",
      comment: "functions/ and shared/ (but their node/ folders) run in workerd too.",
      severity: "error",
      from: { path: "^(functions|shared)/", pathNot: "^(functions|shared)/node/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "neutral-code-imports-no-node-folder",
      comment: "What runs in workerd cannot lean on what runs only on Node.",
      severity: "error",
      from: { path: "^(functions|shared)/", pathNot: "^(functions|shared)/node/" },
      to: { path: "^(functions|shared)/node/" },
    },
    {
      name: "product-code-imports-no-tests-or-scripts",
      severity: "error",
      from: { path: "^(functions|shared|control|edge-node)/" },
      to: { path: "^(tests|scripts)/" },
    },
    {
      name: "no-cycles",
      comment: "A cycle makes two modules one: split what both need into a third.",
      severity: "error",
      from: { path: "^(functions|shared|control|edge-node)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|node_modules)/|\\.gen\\.(js|ts)$" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: [".ts", ".mjs", ".js", ".json"] },
  },
};
