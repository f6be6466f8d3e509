// Bundled by esbuild into dist/moq.js (an ES module the test pages import): the whole of @moq/net as `Moq`.
export * as Moq from "@moq/net";
