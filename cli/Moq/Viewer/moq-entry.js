// Bundled by esbuild into dist/moq.js, the module web/viewer.js imports: the whole of @moq/net as `Moq`.
export * as Moq from "@moq/net";
