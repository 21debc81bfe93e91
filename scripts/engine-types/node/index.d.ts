// `node` for the engine typecheck (tsconfig.engine.json): the Node of the oldest VS Code engines.vscode admits.
// A type root of its own, so a library's `/// <reference types="node" />` (undici-types has one) finds this and not
// the development @types/node.
/// <reference path="../../../node_modules/@types/node-engine/index.d.ts" />
