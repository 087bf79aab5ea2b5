#!/usr/bin/env node
// The `nomad-lab` command (package.json "bin"): the TypeScript harness through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli/main.ts');
await main(process.argv);
