/** Swagger UI assets bundled by scripts/gen-docs-assets.mjs (run on npm install). */
export declare const swaggerUiJs: string;
export declare const swaggerUiCss: string;
